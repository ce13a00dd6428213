// SPDX-License-Identifier: MIT
// What the processor offers, asked once: the SIMD paths choose themselves at run time, so one
// build runs everywhere.
#pragma once

namespace smime::cpu {

inline bool has_avx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
#else
    return false;
#endif
}

}  // namespace smime::cpu
