// SPDX-License-Identifier: MIT
// Small helpers shared by the benchmark programs: wall-clock milliseconds and medians.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace smime::bench {

using Clock = std::chrono::steady_clock;

inline double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace smime::bench
