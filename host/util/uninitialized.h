// SPDX-License-Identifier: MIT
// Growing a string by bytes that are about to be written, without writing zeros there first.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace smime {

// Appends room for up to `n` characters to `s` and lets `fill(at)` write them from `at`; `fill`
// returns how many it wrote, and `s` ends after those. `fill` must not throw.
//
// std::string::resize writes zeros into the new room, which for a buffer of many MiB is a whole
// extra pass over fresh memory (the zeros are then overwritten). C++23's resize_and_overwrite
// leaves the room as it is: the files that carry large payloads (base64, framing, MIME encoding,
// reply pieces) are compiled with it where the compiler has it; elsewhere this falls back to
// resize.
template <class Char, class Traits, class Alloc, class Fill>
void append_uninitialized(std::basic_string<Char, Traits, Alloc>& s, std::size_t n, Fill&& fill) {
    // resize_and_overwrite leaves the string undefined if the filling throws.
    static_assert(std::is_nothrow_invocable_v<Fill&, Char*>, "the fill must be noexcept");
    const std::size_t start = s.size();
#if defined(__cpp_lib_string_resize_and_overwrite)
    s.resize_and_overwrite(start + n, [&](Char* p, std::size_t) {
        return start + static_cast<std::size_t>(fill(p + start));
    });
#else
    s.resize(start + n);
    s.resize(start + static_cast<std::size_t>(fill(s.data() + start)));
#endif
}

}  // namespace smime
