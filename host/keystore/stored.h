// SPDX-License-Identifier: MIT
// What the key store's tables hold, to and from OpenSSL objects: certificates and private keys
// as DER, where a certificate came from, fingerprints.
#pragma once

#include "util/ossl.h"
#include "util/secure.h"

#include <ctime>
#include <string>

namespace smime::stored {

std::time_t now();

// The certificates.source column (KeyStore::Source: 0 chain .. 3 identity); a higher rank wins.
const char* source_name(int source);
int source_rank(const std::string& name);

// A private key as PKCS#8 DER, for sealing; and back. Throws Error.
std::string pkcs8_der(EVP_PKEY* key);
ossl::PKeyPtr parse_pkcs8(const SecureString& der);

// A stored certificate. Throws Error(Storage) if it does not decode.
ossl::X509Ptr x509_from_der(const std::string& der);
// A stored CRL, or null when its DER does not decode (a damaged row is no CRL; the rest still are).
ossl::X509CrlPtr crl_from_der(const std::string& der);

// Throws Error(BadRequest) unless `fp` is a SHA-256 fingerprint as the store keeps them.
void check_fingerprint(const std::string& fp);

}  // namespace smime::stored
