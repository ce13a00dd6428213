// SPDX-License-Identifier: MIT
// One-time loading of OpenSSL providers.
#include "util/providers.h"

#include "util/log.h"

#include <openssl/provider.h>

#include <mutex>

namespace smime {

bool ensure_legacy_provider() {
    static std::once_flag once;
    static bool available = false;
    std::call_once(once, [] {
        // Loading any provider explicitly disables the implicit default one, so load both.
        OSSL_PROVIDER* def = OSSL_PROVIDER_load(nullptr, "default");
        OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(nullptr, "legacy");
        available = def && legacy;
        if (!legacy) log::openssl_errors("legacy provider unavailable: RC2 and old PKCS#12 files cannot be read");
    });
    return available;
}

}  // namespace smime
