// SPDX-License-Identifier: MIT
// Loads OpenSSL's default and legacy providers once, for old PKCS#12 files (RC2-40, 3DES) and
// old mail (RC2). Safe to call from anywhere, any number of times.
#pragma once

namespace smime {
// Returns false if the legacy provider is not installed (old files then fail with a clear error).
bool ensure_legacy_provider();
}  // namespace smime
