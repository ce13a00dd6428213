// SPDX-License-Identifier: MIT
// What the key store and the extensions need to know about a certificate, and whether it is fit
// for S/MIME (RFC 8550 / RFC 8551 expectations) — as warnings, never as silent refusal.
#pragma once

#include "util/ossl.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace smime::certinfo {

struct Warning {
    std::string code;
    std::string message;
};

struct CertificateInfo {
    std::string fingerprint;  // SHA-256 of the DER, lowercase hex
    std::string subject, issuer, serial;
    std::time_t not_before = 0, not_after = 0;
    std::vector<std::string> emails;  // lowercase: subjectAltName rfc822Name, then subject emailAddress
    std::string key_type;             // "RSA", "EC", "Ed25519", "DSA", ...
    int key_bits = 0;
    std::string curve;                // for EC keys
    std::string signature_digest;     // digest of the certificate's own signature ("sha256", "sha1")
    bool is_ca = false;
    bool self_signed = false;
    bool usable_for_signing = false;     // key usage allows digitalSignature (or none given)
    bool usable_for_encryption = false;  // key usage allows keyEncipherment/keyAgreement, RSA or EC
    bool email_protection = false;       // EKU absent, or lists emailProtection / anyExtendedKeyUsage
    std::vector<Warning> warnings;
};

// Parses PEM, DER, or base64 of DER. Throws Error(BadCertificate).
ossl::X509Ptr parse(std::string_view text);
// All certificates in a PEM bundle (or the one DER certificate).
std::vector<ossl::X509Ptr> parse_all(std::string_view text);

std::string der(X509* cert);
std::string pem(X509* cert);
std::string fingerprint(X509* cert);
std::vector<std::string> emails(X509* cert);

CertificateInfo describe(X509* cert, std::time_t now);
nlohmann::json to_json(const CertificateInfo& info);
std::string iso8601(std::time_t t);
std::string lowercase(std::string s);

}  // namespace smime::certinfo
