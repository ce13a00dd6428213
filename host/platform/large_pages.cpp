// SPDX-License-Identifier: MIT
// Large buffers on huge pages. A 25 MiB message passes through several buffers of its size
// (the reassembled upload, the canonical form, the CMS output, the reply), and the kernel fills
// each new page on first touch: with 4 KiB pages that is tens of thousands of page faults per
// message, which on virtual machines costs more than the cryptography. Every allocation of
// 1 MiB or more, from C++ and from OpenSSL, is therefore marked MADV_HUGEPAGE, so the kernel
// backs it with 2 MiB pages where transparent huge pages are available ("madvise" or "always",
// the common defaults). Memory use does not change: only blocks that are large anyway are marked.
//
// Only the host executable links this file. Sanitizer builds keep their own allocators.
#include "platform/large_pages.h"

#include "platform/platform.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define SMIME_KEEP_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SMIME_KEEP_ALLOCATOR 1
#endif

#include <openssl/crypto.h>

#include <cstdlib>
#include <new>

namespace {

#if !defined(SMIME_KEEP_ALLOCATOR)
constexpr std::size_t kLargeBlock = std::size_t{1} << 20;

void advise(void* p, std::size_t n) noexcept {
    if (n >= kLargeBlock) smime::platform::advise_huge_pages(p, n);
}

void* allocate(std::size_t n) noexcept {
    void* p = std::malloc(n == 0 ? 1 : n);
    advise(p, n);
    return p;
}

void* openssl_malloc(std::size_t n, const char*, int) { return allocate(n); }
void* openssl_realloc(void* p, std::size_t n, const char*, int) {
    if (n == 0) {  // OpenSSL's own realloc frees here; C leaves realloc(p, 0) to the platform
        std::free(p);
        return nullptr;
    }
    void* q = std::realloc(p, n);
    advise(q, n);
    return q;
}
void openssl_free(void* p, const char*, int) { std::free(p); }
#endif

}  // namespace

namespace smime::platform {

void use_large_pages() {
#if !defined(SMIME_KEEP_ALLOCATOR)
    CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free);  // fails only if OpenSSL already allocated
#endif
}

}  // namespace smime::platform

#if !defined(SMIME_KEEP_ALLOCATOR)
// Replacements of the global allocation functions (the array, nothrow and sized forms of the
// standard library call these).
void* operator new(std::size_t n) {
    for (;;) {
        if (void* p = allocate(n)) return p;
        std::new_handler handler = std::get_new_handler();
        if (!handler) throw std::bad_alloc();
        handler();
    }
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return ::operator new(n, std::nothrow); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif
