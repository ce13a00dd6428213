// SPDX-License-Identifier: MIT
// Reading the user's PKCS#12 files (RFC 7292) as real users have them, and writing backups.
#pragma once

#include "engine/keys.h"
#include "util/secure.h"

#include <string>
#include <string_view>

namespace smime::pkcs12 {

// Reads modern (PBES2/AES, HMAC-SHA-256) and legacy (3DES, RC2-40) files, with or without a
// password. Throws Error(BadPassword) for a wrong password, Error(BadPkcs12) for anything else
// unusable: not PKCS#12, no key, no certificate matching the key.
engine::Identity read(std::string_view der, const SecureString& password);

// A backup of one identity: AES-256-CBC with PBKDF2 and an HMAC-SHA-256 MAC (OpenSSL 3 defaults).
std::string write(const engine::Identity& identity, const SecureString& password,
                  const std::string& friendly_name);

}  // namespace smime::pkcs12
