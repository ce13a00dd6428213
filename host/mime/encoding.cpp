// SPDX-License-Identifier: MIT
// Fast transfer encodings: each works in a few passes over whole buffers, no per-byte appends.
#include "mime/encoding.h"

#include "mime/buffer.h"
#include "util/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace smime::mime {

void append_crlf(std::string_view text, std::string& out) {
    // Copies runs up to each bare LF in one piece; canonical text is a single append.
    out.reserve(out.size() + text.size() + 64);
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

namespace {

// No byte with the high bit set, no NUL, no CR, eight bytes at a time.
bool clean_run(const char* p, std::size_t n) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    constexpr std::uint64_t kCr = 0x0d0d0d0d0d0d0d0dull;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        const std::uint64_t cr = w ^ kCr;
        if ((w & kHigh) || ((w - kOnes) & ~w & kHigh) || ((cr - kOnes) & ~cr & kHigh)) return false;
    }
    for (; i < n; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c >= 128 || c == 0 || c == '\r') return false;
    }
    return true;
}

// Line by line (memchr), each line checked in words.
bool scan_lines(std::string_view text, bool reject_trailing_whitespace) {
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p < end) {
        const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        std::size_t n = static_cast<std::size_t>(line_end - p);
        if (nl && n > 0 && p[n - 1] == '\r') --n;  // the CR of a CRLF
        if (n > 998 || !clean_run(p, n)) return false;
        if (reject_trailing_whitespace && n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) return false;
        p = nl ? nl + 1 : end;
    }
    return true;
}

}  // namespace

bool is_7bit_safe(std::string_view text) { return scan_lines(text, false); }

bool is_transport_safe(std::string_view text) { return scan_lines(text, true); }

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<unsigned char, 256> make_base64_decode() {
    std::array<unsigned char, 256> table{};
    for (auto& v : table) v = 0xff;
    for (unsigned char i = 0; i < 64; ++i) table[static_cast<unsigned char>(kBase64[i])] = i;
    table[static_cast<unsigned char>(' ')] = table[static_cast<unsigned char>('\t')] = 0xfe;
    table[static_cast<unsigned char>('\r')] = table[static_cast<unsigned char>('\n')] = 0xfe;
    return table;
}
constexpr auto kBase64Decode = make_base64_decode();

}  // namespace

void append_base64_lines(std::string_view raw, std::string& out) {
    // One resize, then encode in place: no temporary, no per-line appends.
    constexpr std::size_t kLineRaw = kBase64LineBytes;
    const std::size_t lines = (raw.size() + kLineRaw - 1) / kLineRaw;
    const std::size_t start = out.size();
    reserve_large(out, start + (raw.size() + 2) / 3 * 4 + 2 * lines);
    out.resize(start + (raw.size() + 2) / 3 * 4 + 2 * lines);
    char* dst = out.data() + start;
    const auto* src = reinterpret_cast<const unsigned char*>(raw.data());
    std::size_t remaining = raw.size();
    while (remaining > 0) {
        const std::size_t n = std::min(remaining, kLineRaw);
        base64::encode_to(src, n, dst);
        dst += base64::encoded_size(n);
        *dst++ = '\r';
        *dst++ = '\n';
        src += n;
        remaining -= n;
    }
}

bool decode_base64_lenient(std::string_view text, std::string& out) {
    const std::size_t start = out.size();
    reserve_large(out, start + text.size() / 4 * 3 + 3);
    out.resize(start + text.size() / 4 * 3 + 3);
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    unsigned quad = 0;
    int have = 0;
    std::size_t pad = 0;
    for (const char ch : text) {
        const unsigned char v = kBase64Decode[static_cast<unsigned char>(ch)];
        if (v < 64) {
            if (pad) return false;  // data after padding
            quad = (quad << 6) | v;
            if (++have == 4) {
                *dst++ = static_cast<unsigned char>(quad >> 16);
                *dst++ = static_cast<unsigned char>(quad >> 8);
                *dst++ = static_cast<unsigned char>(quad);
                have = 0;
                quad = 0;
            }
        } else if (v == 0xfe) {
            continue;
        } else if (ch == '=') {
            ++pad;
        } else {
            return false;
        }
    }
    // Some producers drop the final padding; accept a partial group of 2 or 3 characters.
    if (have == 1) return false;
    if (have == 2) *dst++ = static_cast<unsigned char>(quad >> 4);
    if (have == 3) {
        *dst++ = static_cast<unsigned char>(quad >> 10);
        *dst++ = static_cast<unsigned char>(quad >> 2);
    }
    out.resize(static_cast<std::size_t>(reinterpret_cast<char*>(dst) - out.data()));
    return true;
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
            const bool plain = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end);
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

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

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
        if (i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
}

}  // namespace

bool decode_body(std::string_view body, std::string_view encoding, std::string& out) {
    if (encoding == "base64") return decode_base64_lenient(body, out);
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
