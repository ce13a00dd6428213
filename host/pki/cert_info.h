// SPDX-License-Identifier: MIT
// What a person needs to see about a certificate: addresses, names, serial, fingerprint, validity.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace smime::pki {

struct CertInfo {
    std::vector<std::string> emails;  // lowercase, SAN rfc822Name first, then subject emailAddress
    std::string subject;              // RFC 2253
    std::string issuer;               // RFC 2253
    std::string serial;               // lowercase hex
    std::string fingerprint_sha256;   // lowercase hex of the DER
    std::optional<std::time_t> not_before;
    std::optional<std::time_t> not_after;
};

CertInfo describe(X509* cert);

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
