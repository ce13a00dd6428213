// SPDX-License-Identifier: MIT
// Makes sure OpenSSL's default and legacy providers are loaded before the engine needs a cipher,
// so old mail (RC2, RFC 8551 section 2.7 "historical") still decrypts.
#pragma once

namespace smime::engine {

// Idempotent and thread-safe; delegates to the host's one provider loader (util/providers.h).
void load_providers();

}  // namespace smime::engine
