// SPDX-License-Identifier: MIT
// Fast, strict base64 (RFC 4648 section 4) for payloads that bypass the JSON parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smime::base64 {

std::size_t encoded_size(std::size_t raw_size);

// The kernel: writes encoded_size(size) characters to `dst` (with padding).
void encode_to(const unsigned char* src, std::size_t size, char* dst);

// Appends the encoding of `raw` to `out`.
void encode_append(std::string_view raw, std::string& out);
std::string encode(std::string_view raw);

// Appends the decoding of `text` to `out`. Strict: length a multiple of 4, padding only at the end,
// no whitespace. Returns false (leaving `out` with unspecified appended bytes) on bad input.
bool decode_append(std::string_view text, std::string& out);

// MIME's base64 body (RFC 2045 section 6.8): lines of `line_raw` bytes (a multiple of 3), each
// encoded and ended with CRLF, the last one shorter. encoded_lines_size() characters at `dst`.
std::size_t encoded_lines_size(std::size_t raw_size, std::size_t line_raw);
void encode_lines_to(const unsigned char* src, std::size_t n, char* dst, std::size_t line_raw);

// Lenient decoding for MIME bodies and PEM: skips whitespace (RFC 2045 section 6.8) and accepts a
// missing final padding. False on any other character or data after padding.
bool decode_lenient_append(std::string_view text, std::string& out);
// The same into `dst`, which has room for text.size() / 4 * 3 + 3 bytes or is text.data() itself
// (decoding in place: the bytes are never more than the characters they come from). The decoded
// size, or nullopt on bad input. With `max_groups`, stops after that many whole groups (3 bytes
// each) without reading further: the start of a long text.
std::optional<std::size_t> decode_lenient_to(std::string_view text, unsigned char* dst,
                                             std::size_t max_groups = SIZE_MAX);

}  // namespace smime::base64
