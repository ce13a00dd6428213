// SPDX-License-Identifier: MIT
// Large buffer reservation with a transparent huge page hint.
#include "mime/buffer.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace smime::mime {

void reserve_large(std::string& out, std::size_t capacity) {
    if (capacity <= out.capacity()) return;
    out.reserve(capacity);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
    if (out.capacity() < 4 * kHuge) return;
    // Only whole huge pages inside the buffer; the hint applies before the pages are touched.
    const auto start = reinterpret_cast<std::uintptr_t>(out.data());
    const std::uintptr_t first = (start + kHuge - 1) & ~(kHuge - 1);
    const std::uintptr_t last = (start + out.capacity()) & ~(kHuge - 1);
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

}  // namespace smime::mime
