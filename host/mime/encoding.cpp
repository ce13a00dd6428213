// SPDX-License-Identifier: MIT
// Fast transfer encodings: each works in a few passes over whole buffers, no per-byte appends.
#include "mime/encoding.h"

#include "util/base64.h"
#include "util/cpu.h"
#include "util/large_buffer.h"
#include "util/text.h"
#include "util/uninitialized.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace smime::mime {

namespace {

using Masks = TextScanner::Masks;

Masks masks_scalar(const unsigned char* p) {
    Masks m;
    for (unsigned i = 0; i < 64; ++i) {
        const std::uint64_t bit = std::uint64_t{1} << i;
        const unsigned char c = p[i];
        if (c == '\n') m.lf |= bit;
        else if (c == '\r') m.cr |= bit;
        else if (c == ' ' || c == '\t') m.ws |= bit;
        else if (c == 0 || c >= 128) m.bad |= bit;
    }
    return m;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SMIME_SCAN_AVX2 1
__attribute__((target("avx2"), always_inline)) inline std::uint64_t bits(__m256i v) {
    return std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(v))};
}

__attribute__((target("avx2"), always_inline)) inline void masks_avx2_half(const unsigned char* p,
                                                                           unsigned shift,
                                                                           Masks& m) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    m.lf |= bits(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('\n'))) << shift;
    m.cr |= bits(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('\r'))) << shift;
    m.ws |= bits(_mm256_or_si256(_mm256_cmpeq_epi8(c, _mm256_set1_epi8(' ')),
                                 _mm256_cmpeq_epi8(c, _mm256_set1_epi8('\t'))))
            << shift;
    m.bad |= (bits(c) | bits(_mm256_cmpeq_epi8(c, _mm256_setzero_si256()))) << shift;
}

#endif

}  // namespace

// Bit i of each mask stands for byte i of the block.
inline __attribute__((always_inline)) void TextScanner::block(const Masks& m) {
    bad_ |= m.bad;
    const std::uint64_t eol = m.lf | m.cr;
    // A CR must be followed by its LF; bit 63 is judged with the next block.
    stray_cr_ |= (m.cr & ~(m.lf >> 1) & ~(std::uint64_t{1} << 63)) | (carry_cr_ & ~m.lf & 1);
    bare_lf_ |= m.lf & ~((m.cr << 1) | carry_cr_);
    trailing_ws_ |= (m.ws & (eol >> 1)) | (carry_ws_ & eol & 1);
    if (m.lf) {
        // Lines that start and end inside this block are short; only the first LF can end a long
        // one.
        const auto k = static_cast<unsigned>(std::countr_zero(m.lf));
        const bool cr_before = k > 0 ? ((m.cr >> (k - 1)) & 1) != 0 : carry_cr_ != 0;
        std::size_t length = base_ + k - line_start_;
        if (length > 0 && cr_before) --length;
        long_line_ = long_line_ || length > 998;
        line_start_ = base_ + 64 - static_cast<std::size_t>(std::countl_zero(m.lf));
    }
    carry_cr_ = m.cr >> 63;
    carry_ws_ = m.ws >> 63;
    base_ += 64;
}

#if defined(SMIME_SCAN_AVX2)
__attribute__((target("avx2"))) void TextScanner::blocks_avx2(const unsigned char* p,
                                                              std::size_t count) {
    for (std::size_t i = 0; i < count; ++i, p += 64) {
        Masks m;
        masks_avx2_half(p, 0, m);
        masks_avx2_half(p + 32, 32, m);
        block(m);
    }
}
#endif

void TextScanner::feed(std::string_view text) {
    if (text.empty()) return;
    total_ += text.size();
    last_ = text.back();
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t n = text.size();
    if (pending_size_ > 0) {
        const std::size_t take = std::min(n, sizeof pending_ - pending_size_);
        std::memcpy(pending_ + pending_size_, p, take);
        pending_size_ += take;
        p += take;
        n -= take;
        if (pending_size_ < sizeof pending_) return;
        block(masks_scalar(pending_));
        pending_size_ = 0;
    }
    const std::size_t count = n / 64;
#if defined(SMIME_SCAN_AVX2)
    if (cpu::has_avx2()) {
        blocks_avx2(p, count);
    } else
#endif
    {
        for (std::size_t i = 0; i < count; ++i) block(masks_scalar(p + i * 64));
    }
    p += count * 64;
    n -= count * 64;
    std::memcpy(pending_, p, n);
    pending_size_ = n;
}

TextScan TextScanner::finish() {
    if (pending_size_ > 0) {
        std::memset(pending_ + pending_size_, 'A',
                    sizeof pending_ - pending_size_);  // none of the bytes looked for
        block(masks_scalar(pending_));
        pending_size_ = 0;
    }
    bool stray_cr = stray_cr_ != 0, trailing_ws = trailing_ws_ != 0, long_line = long_line_;
    if (total_ > 0) {
        stray_cr = stray_cr || last_ == '\r';
        trailing_ws = trailing_ws || last_ == ' ' || last_ == '\t';
        long_line = long_line || total_ - line_start_ > 998;
    }
    TextScan scan;
    scan.seven_bit = bad_ == 0 && !stray_cr && !long_line;
    scan.transport_safe = scan.seven_bit && !trailing_ws;
    scan.crlf = bare_lf_ == 0;
    return scan;
}

TextScan scan_text(std::string_view text) {
    TextScanner scanner;
    scanner.feed(text);
    return scanner.finish();
}

void append_crlf(std::string_view text, std::string& out) {
    if (scan_text(text).crlf) {  // canonical already: one copy
        out.append(text);
        return;
    }
    // Copies runs up to each bare LF in one piece.
    out.reserve(out.size() + text.size() + text.size() / 16 + 64);
    std::size_t run = 0;  // start of the pending run
    std::size_t pos = 0;
    while (pos < text.size()) {
        const void* hit = std::memchr(text.data() + pos, '\n', text.size() - pos);
        if (!hit) break;
        const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
        if (nl == 0 || text[nl - 1] != '\r') {
            out.append(text.substr(run, nl - run)).append("\r\n");
            run = nl + 1;
        }
        pos = nl + 1;
    }
    out.append(text.substr(run));
}

std::string to_crlf(std::string_view text) {
    std::string out;
    append_crlf(text, out);
    return out;
}

bool is_7bit_safe(std::string_view text) { return scan_text(text).seven_bit; }

bool is_transport_safe(std::string_view text) { return scan_text(text).transport_safe; }

bool is_crlf(std::string_view text) { return scan_text(text).crlf; }

void append_base64_lines(std::string_view raw, std::string& out) {
    // One resize, then encode in place: no temporary, no per-line appends.
    const std::size_t size = base64::encoded_lines_size(raw.size(), kBase64LineBytes);
    reserve_large(out, out.size() + size);
    append_uninitialized(out, size, [&](char* at) noexcept {
        base64::encode_lines_to(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), at,
                                kBase64LineBytes);
        return size;
    });
}

void append_quoted_printable(std::string_view text, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.reserve(out.size() + text.size() + text.size() / 8);
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        const bool last = nl == std::string_view::npos;
        std::string_view line = text.substr(pos, last ? std::string_view::npos : nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (last && line.empty()) break;
        std::size_t column = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            const auto c = static_cast<unsigned char>(line[i]);
            const bool at_end = i + 1 == line.size();
            // Trailing whitespace is encoded so that relays stripping it cannot change the text;
            // a leading "From " or "." is encoded so that mbox and SMTP cannot mangle it.
            const bool plain =
                (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end);
            const bool guard = (i == 0 && (c == '.' || (c == 'F' && line.substr(0, 5) == "From ")));
            const std::size_t width = (plain && !guard) ? 1 : 3;
            if (column + width > 75) {
                out.append("=\r\n");
                column = 0;
            }
            if (width == 1) {
                out.push_back(static_cast<char>(c));
            } else {
                const char encoded[3] = {'=', kHex[c >> 4], kHex[c & 15]};
                out.append(encoded, 3);
            }
            column += width;
        }
        if (last) break;
        out.append("\r\n");
        pos = nl + 1;
    }
}

namespace {

void decode_quoted_printable(std::string_view text, std::string& out) {
    out.reserve(out.size() + text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c != '=') {
            out.push_back(c);
            continue;
        }
        // Soft line break: "=" followed by optional whitespace and a line break.
        std::size_t j = i + 1;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
        if (j < text.size() && (text[j] == '\r' || text[j] == '\n')) {
            if (text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n') ++j;
            i = j;
            continue;
        }
        const int hi = i + 2 < text.size() ? text::hex_digit(text[i + 1]) : -1;
        const int lo = hi >= 0 ? text::hex_digit(text[i + 2]) : -1;
        if (lo >= 0) {
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
}

}  // namespace

bool decode_body(std::string_view body, std::string_view encoding, std::string& out) {
    if (encoding == "base64") return base64::decode_lenient_append(body, out);
    if (encoding == "quoted-printable") {
        decode_quoted_printable(body, out);
        return true;
    }
    if (encoding == "7bit" || encoding == "8bit" || encoding == "binary") {
        out.append(body);
        return true;
    }
    return false;
}

}  // namespace smime::mime
