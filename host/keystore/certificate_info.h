// SPDX-License-Identifier: MIT
// Certificates as the key store reads and writes them (PEM, DER, base64), and their description
// (pki/cert_info.h) — fitness for S/MIME as warnings, never as silent refusal.
#pragma once

#include "pki/cert_info.h"
#include "util/ossl.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace smime::certinfo {

// The one certificate description lives in pki (the engine's status uses it too).
using Warning = pki::Warning;
using CertificateInfo = pki::CertInfo;

// Parses PEM, DER, or base64 of DER. Throws Error(BadCertificate).
ossl::X509Ptr parse(std::string_view text);
// All certificates in a PEM bundle (or the one DER certificate).
std::vector<ossl::X509Ptr> parse_all(std::string_view text);

std::string der(X509* cert);
std::string pem(X509* cert);
std::string fingerprint(X509* cert);
std::vector<std::string> emails(X509* cert);
// OpenSSL's hash of a name's canonical form (X509_NAME_hash_ex, as certificate directories use):
// names that compare equal hash equal, whatever their string types, case or spacing. 32 bits:
// two names may share one, so a match by hash is confirmed with X509_NAME_cmp.
std::int64_t name_hash(const X509_NAME* name);

CertificateInfo describe(X509* cert, std::time_t now);
nlohmann::json to_json(const CertificateInfo& info);
std::string iso8601(std::time_t t);

}  // namespace smime::certinfo
