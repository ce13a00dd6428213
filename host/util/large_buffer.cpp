// SPDX-License-Identifier: MIT
// Reserving large buffers in one allocation, with a transparent huge page hint.
#include "util/large_buffer.h"

#include "platform/platform.h"

namespace smime {

constexpr std::size_t kLargeBuffer = std::size_t{8} << 20;

void reserve_large(std::string& out, std::size_t capacity) {
    if (capacity <= out.capacity()) return;
    out.reserve(capacity);
    // The host's allocator marks large blocks already; this serves the engine everywhere else.
    if (out.capacity() >= kLargeBuffer) platform::advise_huge_pages(out.data(), out.capacity());
}

}  // namespace smime
