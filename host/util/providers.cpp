// SPDX-License-Identifier: MIT
// One-time loading of OpenSSL providers, unloaded again at exit.
#include "util/providers.h"

#include "util/log.h"

#include <openssl/provider.h>

#include <memory>
#include <mutex>

namespace smime {
namespace {

void unload(OSSL_PROVIDER* provider) { OSSL_PROVIDER_unload(provider); }
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, void (*)(OSSL_PROVIDER*)>;

// Loading any provider explicitly disables the implicit default one, so load both.
struct Providers {
    ProviderPtr default_provider{OSSL_PROVIDER_load(nullptr, "default"), unload};
    ProviderPtr legacy_provider{OSSL_PROVIDER_load(nullptr, "legacy"), unload};
};

}  // namespace

bool ensure_legacy_provider() {
    static std::once_flag once;
    static bool available = false;
    std::call_once(once, [] {
        static const Providers providers;
        available = providers.default_provider && providers.legacy_provider;
        if (!providers.legacy_provider)
            log::openssl_errors(
                "legacy provider unavailable: RC2 and old PKCS#12 files cannot be read");
    });
    return available;
}

}  // namespace smime
