// SPDX-License-Identifier: MIT
// Small text helpers every unit shares: ASCII lowercase, hex, well-formed UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smime::text {

// ASCII letters lowercased, every other byte as it is (header and parameter names, addresses,
// algorithm names, fingerprints; never locale-dependent).
std::string ascii_lower(std::string_view s);

// Lowercase hex, two digits per byte.
std::string hex(const unsigned char* data, std::size_t size);

// The value of one hex digit of either case, or -1 for any other character.
constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Well-formed UTF-8 (RFC 3629 section 4): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

}  // namespace smime::text
