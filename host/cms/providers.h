// SPDX-License-Identifier: MIT
// Loads OpenSSL's default and legacy providers once per process, so old mail (RC2, RFC 8551
// section 2.7 "historical") still decrypts.
#pragma once

namespace smime::engine {

// Idempotent and thread-safe. Loading the legacy provider explicitly disables the implicit load
// of the default provider, so both are loaded here; both stay loaded for the process lifetime.
void load_providers();

}  // namespace smime::engine
