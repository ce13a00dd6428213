// SPDX-License-Identifier: MIT
// Locking the pages of a secret's buffer in memory, where the platform has mlock; giving wiped
// pages back; OpenSSL's secure heap.
#include "util/secure.h"

#include "util/log.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <cstdint>
#include <mutex>

namespace smime {

void SecureString::lock_pages() noexcept {
#if defined(__unix__) || defined(__APPLE__)
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page <= 0 || value_.capacity() == 0) return;
    const auto mask = static_cast<std::uintptr_t>(page) - 1;
    const auto begin = reinterpret_cast<std::uintptr_t>(value_.data()) & ~mask;
    const auto end = reinterpret_cast<std::uintptr_t>(value_.data()) + value_.capacity() + 1;
    (void)::mlock(reinterpret_cast<void*>(begin), end - begin);
#endif
}

void wipe_and_release(char* begin, char* end) noexcept {
    if (end <= begin) return;
    wipe_bytes(begin, static_cast<std::size_t>(end - begin));
#if defined(__unix__) || defined(__APPLE__)
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const auto size = static_cast<std::uintptr_t>(page);
    const auto first = (reinterpret_cast<std::uintptr_t>(begin) + size - 1) / size * size;
    const auto last = reinterpret_cast<std::uintptr_t>(end) / size * size;
    if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#endif
}

void use_secure_heap() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        constexpr std::size_t kSecureHeap = std::size_t{1} << 20;  // some 300 RSA-4096 keys at once
        const int secure = CRYPTO_secure_malloc_init(kSecureHeap, 16);
        if (secure == 0)
            log::warn("OpenSSL's secure heap is not available; private keys use ordinary memory");
        else if (secure == 2)
            log::warn("OpenSSL's secure heap could not be locked in memory (RLIMIT_MEMLOCK)");
    });
}

}  // namespace smime
