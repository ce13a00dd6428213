// SPDX-License-Identifier: MIT
// Table-driven base64; fast enough that a 25 MB payload costs tens of milliseconds.
#include "util/base64.h"
#include "util/cpu.h"
#include "util/large_buffer.h"
#include "util/uninitialized.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Lenient decoding: a character's 6 bits, 0xfe for whitespace to skip, 0xff for anything else.
constexpr std::array<unsigned char, 256> make_lenient_decode() {
    std::array<unsigned char, 256> table{};
    for (auto& v : table) v = 0xff;
    for (unsigned char i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
    table[static_cast<unsigned char>(' ')] = table[static_cast<unsigned char>('\t')] = 0xfe;
    table[static_cast<unsigned char>('\r')] = table[static_cast<unsigned char>('\n')] = 0xfe;
    return table;
}
constexpr auto kLenientDecode = make_lenient_decode();

inline std::uint32_t decode_quad(const unsigned char* src) {
    return kDecode[0][src[0]] | kDecode[1][src[1]] | kDecode[2][src[2]] | kDecode[3][src[3]];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SMIME_BASE64_AVX2 1
// 32 characters at a time (Muła and Lemire's method): two table look-ups by the low and the high
// half of each byte classify it (a byte outside the alphabet meets a clashing bit in both), a
// third gives the amount to add to it for its 6-bit value ('/' told apart from '+' by its own
// comparison); two multiply-adds pack four values into three bytes. Returns the number of whole
// quads decoded; stops early (for the scalar loop to judge) at a block with any invalid byte.
// Writes 8 bytes past the decoded ones (stores of 32 bytes for 24).
__attribute__((target("avx2"))) std::size_t decode_avx2(const unsigned char* src, std::size_t quads,
                                                        unsigned char* dst) {
    std::size_t done = 0;
    // By high half, the byte's class: 1 for 0x2_ ('+', '/'), 2 for 0x3_ (digits), 4 for 0x4_ and
    // 0x6_ ('A'-'O', 'a'-'o'), 8 for 0x5_ and 0x7_ ('P'-'Z', 'p'-'z'), 0x10 where no byte is valid.
    // By low half, the classes in which a byte with that low half is not valid, and always 0x10.
    // A byte is valid when its two entries share no bit.
    const __m256i by_low =
        _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a,
                         0x1b, 0x1b, 0x1b, 0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                         0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
    const __m256i by_high =
        _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    // What to add, by high half ('/' one place lower): '+' 62-43 = 19, '/' 63-47 = 16,
    // '0' 52-48 = 4, 'A' -65, 'a' 26-97 = -71.
    const __m256i shift =
        _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
                         -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i mask_2f = _mm256_set1_epi8(0x2f);
    const __m256i pack_pairs = _mm256_set1_epi32(0x01400140);
    const __m256i pack_quads = _mm256_set1_epi32(0x00011000);
    const __m256i order =
        _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,  //
                         2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    while (quads - done >= 8) {
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + done * 4));
        const __m256i high = _mm256_and_si256(_mm256_srli_epi32(c, 4), mask_2f);
        const __m256i low = _mm256_and_si256(c, mask_2f);
        if (!_mm256_testz_si256(_mm256_shuffle_epi8(by_low, low),
                                _mm256_shuffle_epi8(by_high, high)))
            break;
        const __m256i is_slash = _mm256_cmpeq_epi8(c, mask_2f);
        const __m256i values =
            _mm256_add_epi8(c, _mm256_shuffle_epi8(shift, _mm256_add_epi8(is_slash, high)));
        const __m256i pairs = _mm256_maddubs_epi16(values, pack_pairs);  // 12 bits per 16-bit word
        const __m256i words = _mm256_madd_epi16(pairs, pack_quads);      // 24 bits per 32-bit word
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, order), lanes);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + done * 3),
                            bytes);  // 24 of 32 bytes count
        done += 8;
    }
    return done;
}

// 24 bytes to 32 characters at a time (the same authors' encoder): each 128-bit lane takes 12
// bytes, spreads every 3 into a 32-bit word, cuts four 6-bit values out with multiplies, and maps
// values to characters by adding a per-range offset. Reads 4 bytes past the 24 it encodes.
// Returns the number of bytes encoded (a multiple of 24).
// One block: 24 bytes at `src` (reading 28) to 32 characters at `dst`.
__attribute__((target("avx2"))) inline void encode_block_avx2(const unsigned char* src, char* dst) {
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m256i offsets =
        _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0,  //
                         65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 12));
    const __m256i in =
        _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), spread);
    const __m256i a = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
                                         _mm256_set1_epi32(0x04000040));
    const __m256i b = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
                                         _mm256_set1_epi32(0x01000010));
    const __m256i values = _mm256_or_si256(a, b);  // one 6-bit value per byte
    // Range index: 0 for A-Z, 1 for a-z, 2-11 for digits, 12 for '+', 13 for '/'.
    __m256i index = _mm256_subs_epu8(values, _mm256_set1_epi8(51));
    index = _mm256_sub_epi8(index, _mm256_cmpgt_epi8(values, _mm256_set1_epi8(25)));
    const __m256i chars = _mm256_add_epi8(values, _mm256_shuffle_epi8(offsets, index));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), chars);
}

__attribute__((target("avx2"))) std::size_t encode_avx2(const unsigned char* src, std::size_t n,
                                                        char* dst) {
    std::size_t done = 0;
    for (; done + 28 <= n; done += 24) encode_block_avx2(src + done, dst + done / 3 * 4);
    return done;
}

// MIME lines of 57 bytes (76 characters and CRLF), three blocks a line. The third block reads 19
// bytes into the next line and writes 20 characters past the line's 76, over which the next
// line then writes: so it goes on while a next line of at least 19 bytes follows. Returns the
// number of bytes encoded (whole lines).
__attribute__((target("avx2"))) std::size_t encode_lines_avx2(const unsigned char* src,
                                                              std::size_t n, char* dst) {
    std::size_t done = 0;
    for (; n - done >= 57 + 19; done += 57, dst += 78) {
        encode_block_avx2(src + done, dst);
        encode_block_avx2(src + done + 24, dst + 32);
        encode_block_avx2(src + done + 48, dst + 64);
        dst[76] = '\r';
        dst[77] = '\n';
    }
    return done;
}
#endif

}  // namespace

std::size_t encoded_size(std::size_t raw_size) { return (raw_size + 2) / 3 * 4; }

void encode_to(const unsigned char* src, std::size_t n, char* dst) {
    std::size_t i = 0;
#if defined(SMIME_BASE64_AVX2)
    if (n >= 28 && cpu::has_avx2()) {
        i = encode_avx2(src, n, dst);
        dst += i / 3 * 4;
    }
#endif
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v =
            (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
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

std::size_t encoded_lines_size(std::size_t raw_size, std::size_t line_raw) {
    if (line_raw == 0) line_raw = raw_size;  // one line, as encode_lines_to writes it
    if (raw_size == 0) return 0;
    const std::size_t lines = (raw_size + line_raw - 1) / line_raw;
    return encoded_size(raw_size) + 2 * lines;
}

void encode_lines_to(const unsigned char* src, std::size_t n, char* dst, std::size_t line_raw) {
    if (line_raw == 0) line_raw = n;  // one line, rather than no progress
    std::size_t i = 0;
#if defined(SMIME_BASE64_AVX2)
    if (line_raw == 57 && cpu::has_avx2()) {
        i = encode_lines_avx2(src, n, dst);
        dst += i / 57 * 78;
    }
#endif
    while (i < n) {
        const std::size_t m = std::min(n - i, line_raw);
        encode_to(src + i, m, dst);
        dst += encoded_size(m);
        *dst++ = '\r';
        *dst++ = '\n';
        i += m;
    }
}

void encode_append(std::string_view raw, std::string& out) {
    const std::size_t n = encoded_size(raw.size());
    append_uninitialized(out, n, [&](char* at) noexcept {
        encode_to(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), at);
        return n;
    });
}

std::string encode(std::string_view raw) {
    std::string out;
    encode_append(raw, out);
    return out;
}

namespace {
bool decode_quads(std::string_view text, std::size_t quads, std::size_t pad, unsigned char* dst);
}  // namespace

bool decode_append(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) return false;
    if (text.empty()) return true;
    std::size_t pad = 0;
    if (text.back() == '=') pad = (text[text.size() - 2] == '=') ? 2 : 1;
    const std::size_t quads = text.size() / 4 - (pad ? 1 : 0);
    const std::size_t tail = pad ? 3 - pad : 0;
    // The exact size: a caller that reserved the announced size must not see a reallocation.
    const std::size_t n = quads * 3 + tail;
    bool ok = false;
    append_uninitialized(out, n, [&](char* at) noexcept {
        ok = decode_quads(text, quads, pad, reinterpret_cast<unsigned char*>(at));
        return n;
    });
    return ok;
}

namespace {

// decode_append's work: `quads` whole quads of `text`, then its padded one, if any (`pad`).
bool decode_quads(std::string_view text, std::size_t quads, std::size_t pad, unsigned char* dst) {
    const auto* src = reinterpret_cast<const unsigned char*>(text.data());
    std::uint32_t bad = 0;
    std::size_t q = 0;
    // The wide loops store whole words that reach past the bytes they decode: they stop early
    // enough for those stores to land on bytes that later quads overwrite.
#if defined(SMIME_BASE64_AVX2)
    if (cpu::has_avx2() && quads > 3) {
        q = decode_avx2(src, quads - 3, dst);
        src += q * 4;
        dst += q * 3;
    }
#endif
    auto store3 = [&dst](std::uint32_t w) {
        dst[0] = static_cast<unsigned char>(w);
        dst[1] = static_cast<unsigned char>(w >> 8);
        dst[2] = static_cast<unsigned char>(w >> 16);
    };
    for (; q + 1 < quads; ++q, src += 4, dst += 3) {
        const std::uint32_t w = decode_quad(src);
        bad |= w;
        if constexpr (kLittleEndian) std::memcpy(dst, &w, 4);
        else store3(w);
    }
    if (q < quads) {  // the last whole quad, stored byte by byte
        const std::uint32_t w = decode_quad(src);
        bad |= w;
        store3(w);
        src += 4;
        dst += 3;
    }
    if (pad) {
        const unsigned char last[4] = {src[0], src[1],
                                       pad == 1 ? src[2] : static_cast<unsigned char>('A'),
                                       static_cast<unsigned char>('A')};
        const std::uint32_t w = decode_quad(last);
        bad |= w;
        dst[0] = static_cast<unsigned char>(w);
        if (pad == 1) dst[1] = static_cast<unsigned char>(w >> 8);
    }
    return (bad & kBad) == 0;
}

}  // namespace

std::optional<std::size_t> decode_lenient_to(std::string_view text, unsigned char* dst,
                                             std::size_t max_groups) {
    unsigned char* const begin = dst;
    unsigned quad = 0;
    int have = 0;
    std::size_t pad = 0;
    std::size_t groups = 0;
#if defined(SMIME_BASE64_AVX2)
    const bool wide = cpu::has_avx2();
#endif
    // A group's bytes are stored after its fourth character is read: three bytes for at least
    // four characters, so with dst == text.data() the stores stay behind the reading.
    for (std::size_t at = 0; at < text.size();) {
#if defined(SMIME_BASE64_AVX2)
        // Between groups, the run of base64 up to the next line end goes 32 characters at a time
        // (a MIME line of 76: 64 of them), through a block on the stack, as the wide decoder
        // stores past what it decodes; the rest of the line goes below.
        if (wide && have == 0 && pad == 0 && text.size() - at >= 32 && max_groups - groups >= 8) {
            constexpr std::size_t kBlockQuads = 64;
            unsigned char block[kBlockQuads * 3 + 8];
            const std::size_t quads =
                std::min({(text.size() - at) / 4, kBlockQuads, max_groups - groups});
            const std::size_t done =
                decode_avx2(reinterpret_cast<const unsigned char*>(text.data() + at), quads, block);
            if (done > 0) {
                std::memcpy(dst, block, done * 3);
                dst += done * 3;
                at += done * 4;
                groups += done;
                if (groups == max_groups) break;
                continue;
            }
        }
#endif
        const char ch = text[at++];
        const unsigned char v = kLenientDecode[static_cast<unsigned char>(ch)];
        if (v < 64) {
            if (pad) return std::nullopt;  // data after padding
            quad = (quad << 6) | v;
            if (++have == 4) {
                *dst++ = static_cast<unsigned char>(quad >> 16);
                *dst++ = static_cast<unsigned char>(quad >> 8);
                *dst++ = static_cast<unsigned char>(quad);
                have = 0;
                quad = 0;
                if (++groups == max_groups) break;
            }
        } else if (v == 0xfe) {
            continue;
        } else if (ch == '=') {
            ++pad;
        } else {
            return std::nullopt;
        }
    }
    // Some producers drop the final padding; accept a partial group of 2 or 3 characters.
    if (have == 1) return std::nullopt;
    if (have == 2) *dst++ = static_cast<unsigned char>(quad >> 4);
    if (have == 3) {
        *dst++ = static_cast<unsigned char>(quad >> 10);
        *dst++ = static_cast<unsigned char>(quad >> 2);
    }
    return static_cast<std::size_t>(dst - begin);
}

bool decode_lenient_append(std::string_view text, std::string& out) {
    const std::size_t room = text.size() / 4 * 3 + 3;
    reserve_large(out, out.size() + room);
    bool ok = false;
    append_uninitialized(out, room, [&](char* at) noexcept {
        const auto size = decode_lenient_to(text, reinterpret_cast<unsigned char*>(at));
        ok = size.has_value();
        return ok ? *size : 0;
    });
    return ok;
}

}  // namespace smime::base64
