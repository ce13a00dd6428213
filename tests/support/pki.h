// SPDX-License-Identifier: MIT
// Test PKI made on the fly with OpenSSL: keys, CA and user certificates, PKCS#12 files.
#pragma once

#include "support/files.h"
#include "util/ossl.h"

#include <string>
#include <vector>

namespace smime::test {

ossl::PKeyPtr make_rsa_key(int bits = 2048);
ossl::PKeyPtr make_ec_key(const char* curve = "P-256");

struct CertSpec {
    std::string common_name;
    std::vector<std::string> emails;  // subjectAltName rfc822Name
    bool ca = false;
    long valid_from_days = -1;  // relative to now
    long valid_days = 365;
    std::string key_usage;           // e.g. "digitalSignature,keyEncipherment"; empty = none
    std::string ext_key_usage;       // e.g. "emailProtection"; empty = none
    const EVP_MD* digest = nullptr;  // default SHA-256
    long serial = 0;                 // 0 = random
};

// Issued by `issuer` with `issuer_key`; self-signed when issuer is null.
ossl::X509Ptr make_cert(EVP_PKEY* key, const CertSpec& spec, X509* issuer = nullptr,
                        EVP_PKEY* issuer_key = nullptr);

// A PKCS#12 file. legacy = 3DES key bag and RC2-40 certificate bag with a SHA-1 MAC, as old
// exports have them; otherwise OpenSSL 3's default (PBES2/AES-256, HMAC-SHA-256).
std::string make_pkcs12(EVP_PKEY* key, X509* cert, const std::vector<X509*>& chain,
                        const std::string& password, bool legacy = false);

// A PKCS#12 whose key bag and certificate bag claim to belong together but do not.
std::string make_mismatched_pkcs12(EVP_PKEY* key, X509* other_cert, const std::string& password);

std::string pem_of(X509* cert);
std::string der_of_key(EVP_PKEY* key);  // PKCS#8 DER
std::string pem_of_key(EVP_PKEY* key);  // PKCS#8 PEM

// A small self-contained PKI: a root CA and two users (RSA and EC) with emailProtection.
struct TestPki {
    ossl::PKeyPtr ca_key, rsa_key, ec_key;
    ossl::X509Ptr ca, rsa_cert, ec_cert;
    static TestPki make(const std::string& rsa_email = "alice@example.org",
                        const std::string& ec_email = "bob@example.org");
    // A certificate for the EC key `key` (signing, key agreement, emailProtection, one year)
    // issued by this CA to `name` at `email`.
    ossl::X509Ptr issue_ec(EVP_PKEY* key, const std::string& name, const std::string& email) const;
};

}  // namespace smime::test
