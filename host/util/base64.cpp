// SPDX-License-Identifier: MIT
// Table-driven base64; fast enough that a 25 MB payload costs tens of milliseconds.
#include "util/base64.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace smime::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr bool kLittleEndian = std::endian::native == std::endian::little;

// Encoding takes 12 bits at a time: two characters from one table look-up.
constexpr std::array<std::array<char, 2>, 4096> make_pairs() {
    std::array<std::array<char, 2>, 4096> pairs{};
    for (std::size_t i = 0; i < 4096; ++i) pairs[i] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
    return pairs;
}
constexpr auto kPairs = make_pairs();

// Decoding: each character's table gives its bits already in place in the three output bytes
// (in memory order, read as a little-endian word); an invalid character sets bit 24.
constexpr std::uint32_t kBad = 0x01000000;
constexpr std::array<std::array<std::uint32_t, 256>, 4> make_decode_tables() {
    std::array<std::array<std::uint32_t, 256>, 4> t{};
    for (auto& table : t)
        for (auto& v : table) v = kBad;
    for (std::uint32_t i = 0; i < 64; ++i) {
        const auto ch = static_cast<unsigned char>(kAlphabet[i]);
        t[0][ch] = i << 2;
        t[1][ch] = (i >> 4) | ((i & 15) << 12);
        t[2][ch] = ((i >> 2) << 8) | ((i & 3) << 22);
        t[3][ch] = i << 16;
    }
    return t;
}
constexpr auto kDecode = make_decode_tables();

inline std::uint32_t decode_quad(const unsigned char* src) {
    return kDecode[0][src[0]] | kDecode[1][src[1]] | kDecode[2][src[2]] | kDecode[3][src[3]];
}

}  // namespace

std::size_t encoded_size(std::size_t raw_size) { return (raw_size + 2) / 3 * 4; }

void encode_to(const unsigned char* src, std::size_t n, char* dst) {
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
        std::memcpy(dst, kPairs[v >> 12].data(), 2);
        std::memcpy(dst + 2, kPairs[v & 4095].data(), 2);
        dst += 4;
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{src[i]} << 16;
        std::memcpy(dst, kPairs[v >> 12].data(), 2);
        dst[2] = dst[3] = '=';
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8);
        std::memcpy(dst, kPairs[v >> 12].data(), 2);
        dst[2] = kAlphabet[(v >> 6) & 63];
        dst[3] = '=';
    }
}

void encode_append(std::string_view raw, std::string& out) {
    const std::size_t start = out.size();
    out.resize(start + encoded_size(raw.size()));
    encode_to(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), out.data() + start);
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
    const std::size_t quads = text.size() / 4 - (pad ? 1 : 0);
    // One spare byte: every quad is stored as a 4-byte word, the last one's spare byte cut off.
    out.resize(start + quads * 3 + 3 + 1);
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    const auto* src = reinterpret_cast<const unsigned char*>(text.data());
    std::uint32_t bad = 0;
    for (std::size_t q = 0; q < quads; ++q, src += 4, dst += 3) {
        const std::uint32_t w = decode_quad(src);
        bad |= w;
        if constexpr (kLittleEndian) {
            std::memcpy(dst, &w, 4);
        } else {
            dst[0] = static_cast<unsigned char>(w);
            dst[1] = static_cast<unsigned char>(w >> 8);
            dst[2] = static_cast<unsigned char>(w >> 16);
        }
    }
    std::size_t tail = 0;
    if (pad) {
        const unsigned char last[4] = {src[0], src[1], pad == 1 ? src[2] : static_cast<unsigned char>('A'),
                                       static_cast<unsigned char>('A')};
        const std::uint32_t w = decode_quad(last);
        bad |= w;
        dst[0] = static_cast<unsigned char>(w);
        if (pad == 1) dst[1] = static_cast<unsigned char>(w >> 8);
        tail = 3 - pad;
    }
    out.resize(start + quads * 3 + tail);
    return (bad & kBad) == 0;
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
