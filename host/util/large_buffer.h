// SPDX-License-Identifier: MIT
// Reserving large message buffers: one allocation, and on Linux backed by transparent huge
// pages, because first-touch page faults (not copying) dominate the cost of a fresh 25 MB buffer.
#pragma once

#include <cstddef>
#include <string>

namespace smime {

// Like out.reserve(capacity); for capacities of several MiB also asks the kernel for huge pages
// (madvise MADV_HUGEPAGE; a no-op where unsupported).
void reserve_large(std::string& out, std::size_t capacity);

}  // namespace smime
