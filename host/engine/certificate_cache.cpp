// SPDX-License-Identifier: MIT
// A bounded first-in, first-out map from DER to parsed certificate.
#include "engine/certificate_cache.h"

#include <openssl/x509.h>

#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace smime::engine {
namespace {

struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, ossl::X509Ptr> by_der;
    std::deque<std::string> order;  // oldest first
};

Cache& cache() {
    static Cache instance;
    return instance;
}

ossl::X509Ptr parse(std::string_view der) {
    if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) return nullptr;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    // Trailing bytes would make two different inputs one entry.
    if (!cert || p != reinterpret_cast<const unsigned char*>(der.data() + der.size()))
        return nullptr;
    return cert;
}

}  // namespace

ossl::X509Ptr cached_certificate(std::string_view der) {
    if (der.empty()) return nullptr;
    if (der.size() > kMaxCachedDer) return parse(der);
    Cache& c = cache();
    const std::string key(der);
    {
        const std::lock_guard lock(c.mutex);
        if (const auto found = c.by_der.find(key); found != c.by_der.end())
            return ossl::up_ref(found->second.get());
    }
    ossl::X509Ptr cert = parse(der);
    if (!cert) return nullptr;
    const std::lock_guard lock(c.mutex);
    if (const auto found = c.by_der.find(key); found != c.by_der.end())
        return ossl::up_ref(found->second.get());
    if (c.order.size() == kMaxCachedCertificates) {
        c.by_der.erase(c.order.front());
        c.order.pop_front();
    }
    c.order.push_back(key);
    c.by_der.emplace(key, ossl::up_ref(cert.get()));
    return cert;
}

std::size_t cached_certificate_count() {
    const std::lock_guard lock(cache().mutex);
    return cache().by_der.size();
}

}  // namespace smime::engine
