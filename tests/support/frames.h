// SPDX-License-Identifier: MIT
// Test helpers: build and split native messaging frames in memory.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace smime::test {

inline std::string frame(const std::string& body) {
    std::string out(4, '\0');
    const auto n = static_cast<std::uint32_t>(body.size());
    std::memcpy(out.data(), &n, 4);
    return out + body;
}

inline std::string frame(const nlohmann::json& body) { return frame(body.dump()); }

// Splits a byte stream into frame bodies; a trailing partial frame is reported as "<partial>".
inline std::vector<std::string> split_frames(const std::string& stream) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos + 4 <= stream.size()) {
        std::uint32_t n = 0;
        std::memcpy(&n, stream.data() + pos, 4);
        if (pos + 4 + n > stream.size()) {
            out.push_back("<partial>");
            return out;
        }
        out.push_back(stream.substr(pos + 4, n));
        pos += 4 + n;
    }
    if (pos != stream.size()) out.push_back("<partial>");
    return out;
}

}  // namespace smime::test
