// SPDX-License-Identifier: MIT
// One-time provider loading for the engine.
#include "cms/providers.h"

#include "util/log.h"

#include <openssl/provider.h>

#include <memory>
#include <mutex>

namespace smime::engine {
namespace {

void unload(OSSL_PROVIDER* provider) { OSSL_PROVIDER_unload(provider); }
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, void (*)(OSSL_PROVIDER*)>;

struct Providers {
    ProviderPtr default_provider{OSSL_PROVIDER_load(nullptr, "default"), unload};
    ProviderPtr legacy_provider{OSSL_PROVIDER_load(nullptr, "legacy"), unload};
};

}  // namespace

void load_providers() {
    static std::once_flag once;
    std::call_once(once, [] {
        static const Providers providers;
        if (!providers.default_provider) log::openssl_errors("loading the default provider");
        if (!providers.legacy_provider) {
            log::openssl_errors("loading the legacy provider");
            log::warn("RC2 and other legacy ciphers are unavailable");
        }
    });
}

}  // namespace smime::engine
