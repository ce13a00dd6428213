// SPDX-License-Identifier: MIT
// Content transfer encodings for S/MIME output and input: CRLF canonical form, base64 in 76-column
// lines, quoted-printable (RFC 2045 section 6.7), and decoding a body by its declared encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smime::mime {

// Appends `text` with every bare LF turned into CRLF (RFC 5751 section 3.1.1 canonical form).
void append_crlf(std::string_view text, std::string& out);
std::string to_crlf(std::string_view text);

// True when `text` needs no transfer encoding to pass 7-bit transport: no byte over 127, no NUL,
// no bare CR, and no line longer than 998 characters (RFC 5322 section 2.1.1).
bool is_7bit_safe(std::string_view text);

// is_7bit_safe() and no line ending in a space or tab, which relays are known to strip
// (RFC 5321 section 4.5.3.1.6 allows neither, but it happens): what signed content needs.
bool is_transport_safe(std::string_view text);

// True when every LF in `text` is part of a CRLF.
bool is_crlf(std::string_view text);

// All three in one pass, also over text that arrives in pieces (64 bytes at a time, SIMD where
// the processor has it).
struct TextScan {
    bool seven_bit = true;       // is_7bit_safe()
    bool transport_safe = true;  // is_transport_safe()
    bool crlf = true;            // is_crlf()
};
TextScan scan_text(std::string_view text);

class TextScanner {
public:
    void feed(std::string_view text);
    TextScan finish();  // once, after the last piece

    struct Masks {
        std::uint64_t lf = 0, cr = 0, ws = 0, bad = 0;  // bad: NUL or a byte over 127
    };

private:
    void block(const Masks& m);
    void blocks_avx2(const unsigned char* p, std::size_t count);

    std::uint64_t bad_ = 0, stray_cr_ = 0, bare_lf_ = 0, trailing_ws_ = 0;
    std::uint64_t carry_cr_ = 0, carry_ws_ = 0;  // the last byte of the previous block
    bool long_line_ = false;
    std::size_t base_ = 0;        // offset of the next block
    std::size_t line_start_ = 0;  // offset of the current line
    std::size_t total_ = 0;
    char last_ = 0;
    unsigned char pending_[64] = {};
    std::size_t pending_size_ = 0;
};

// Appends base64 of `raw` in lines of 76 characters, each ending in CRLF.
void append_base64_lines(std::string_view raw, std::string& out);
inline constexpr std::size_t kBase64LineBytes = 57;  // the bytes of one 76-character line

// Appends the quoted-printable form of `text` (lines separated by CRLF or LF; output uses CRLF).
void append_quoted_printable(std::string_view text, std::string& out);

// Decodes a body by its Content-Transfer-Encoding (lowercase). Returns false for unknown
// encodings or malformed base64.
bool decode_body(std::string_view body, std::string_view encoding, std::string& out);

}  // namespace smime::mime
