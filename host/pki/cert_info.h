// SPDX-License-Identifier: MIT
// The one description of a certificate that every reply uses (identities, certificates.*,
// recipients.status, the verification status' signer): addresses, names, serial, fingerprint,
// validity, key, and whether it is fit for S/MIME (RFC 8550 / RFC 8551) as warnings.
#pragma once

#include <openssl/x509.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace smime::pki {

struct Warning {
    std::string code;
    std::string message;
};

struct CertInfo {
    std::string fingerprint;          // SHA-256 of the DER, lowercase hex
    std::vector<std::string> emails;  // lowercase, SAN rfc822Name first, then subject emailAddress
    std::string subject;              // RFC 2253, UTF-8
    std::string issuer;               // RFC 2253, UTF-8
    std::string serial;               // lowercase hex
    std::time_t not_before = 0, not_after = 0;
    std::string key_type;  // "RSA", "EC", "Ed25519", "DSA", ...
    int key_bits = 0;
    std::string curve;             // for EC keys
    std::string signature_digest;  // digest of the certificate's own signature ("sha256", "sha1")
    bool is_ca = false;
    bool self_signed = false;
    bool usable_for_signing = false;     // key usage allows digitalSignature (or none given)
    bool usable_for_encryption = false;  // key usage allows keyEncipherment/keyAgreement, RSA or EC
    bool email_protection = false;  // EKU absent, or lists emailProtection / anyExtendedKeyUsage
    std::vector<Warning> warnings;  // judged at `now` (expired, not_yet_valid) and always
};

CertInfo describe(X509* cert, std::time_t now);

// {fingerprint, emails[], subject, issuer, serial, not_before, not_after, key{type, bits, curve?},
//  warnings[{code, message}]}: the shape docs/protocol.md calls "a certificate description".
nlohmann::json to_json(const CertInfo& info);

// E-mail addresses a certificate is issued for (RFC 8550 section 3): SAN rfc822Name entries and,
// for old certificates, the subject's emailAddress attribute. Lowercase, without duplicates.
std::vector<std::string> emails(X509* cert);

std::string fingerprint_sha256(X509* cert);

// A serial number as lowercase hex without leading zeros (how the key store keeps it).
std::string serial_hex(const ASN1_INTEGER* serial);

// A time as RFC 3339 UTC ("2026-01-26T09:19:00Z").
std::string format_time(std::time_t t);

std::optional<std::time_t> to_time_t(const ASN1_TIME* t);

}  // namespace smime::pki
