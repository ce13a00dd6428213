// SPDX-License-Identifier: MIT
// Table-driven base64; fast enough that a 25 MB payload costs tens of milliseconds.
#include "util/base64.h"

#include <array>
#include <cstdint>

namespace smime::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> table{};
    for (auto& v : table) v = kInvalid;
    for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
    return table;
}
constexpr auto kDecode = make_decode_table();

}  // namespace

std::size_t encoded_size(std::size_t raw_size) { return (raw_size + 2) / 3 * 4; }

void encode_append(std::string_view raw, std::string& out) {
    const std::size_t start = out.size();
    out.resize(start + encoded_size(raw.size()));
    char* dst = out.data() + start;
    const auto* src = reinterpret_cast<const unsigned char*>(raw.data());
    std::size_t n = raw.size();
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
        *dst++ = kAlphabet[(v >> 18) & 63];
        *dst++ = kAlphabet[(v >> 12) & 63];
        *dst++ = kAlphabet[(v >> 6) & 63];
        *dst++ = kAlphabet[v & 63];
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{src[i]} << 16;
        *dst++ = kAlphabet[(v >> 18) & 63];
        *dst++ = kAlphabet[(v >> 12) & 63];
        *dst++ = '=';
        *dst++ = '=';
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8);
        *dst++ = kAlphabet[(v >> 18) & 63];
        *dst++ = kAlphabet[(v >> 12) & 63];
        *dst++ = kAlphabet[(v >> 6) & 63];
        *dst++ = '=';
    }
}

std::string encode(std::string_view raw) {
    std::string out;
    encode_append(raw, out);
    return out;
}

bool decode_append(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) return false;
    if (text.empty()) return true;
    std::size_t pad = 0;
    if (text.back() == '=') pad = (text[text.size() - 2] == '=') ? 2 : 1;
    const std::size_t start = out.size();
    out.resize(start + text.size() / 4 * 3 - pad);
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    const auto* src = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t full = text.size() - (pad ? 4 : 0);
    for (std::size_t i = 0; i < full; i += 4) {
        const std::uint32_t a = kDecode[src[i]], b = kDecode[src[i + 1]], c = kDecode[src[i + 2]],
                            d = kDecode[src[i + 3]];
        if ((a | b | c | d) & 0x80) return false;
        const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        *dst++ = static_cast<unsigned char>(v >> 16);
        *dst++ = static_cast<unsigned char>(v >> 8);
        *dst++ = static_cast<unsigned char>(v);
    }
    if (pad) {
        const std::size_t i = full;
        const std::uint32_t a = kDecode[src[i]], b = kDecode[src[i + 1]];
        const std::uint32_t c = pad == 1 ? kDecode[src[i + 2]] : 0;
        if ((a | b | c) & 0x80) return false;
        const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
        *dst++ = static_cast<unsigned char>(v >> 16);
        if (pad == 1) *dst++ = static_cast<unsigned char>(v >> 8);
    }
    return true;
}

bool decode_lenient_append(std::string_view text, std::string& out) {
    std::string compact;
    compact.reserve(text.size());
    for (char ch : text) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
        compact.push_back(ch);
    }
    // Some producers drop the final padding; restore it rather than reject the part.
    while (compact.size() % 4 != 0) compact.push_back('=');
    return decode_append(compact, out);
}

}  // namespace smime::base64
