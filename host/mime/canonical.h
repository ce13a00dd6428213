// SPDX-License-Identifier: MIT
// Prepares a message for protection: separates the RFC 5322 header fields that stay outside from
// the MIME entity that gets signed or encrypted, in canonical form (CRLF) and, for signing, 7-bit
// safe so that no relay can alter the signed bytes (RFC 8551 section 3.1).
#pragma once

#include "util/secure.h"

#include <functional>
#include <string>
#include <string_view>

namespace smime::mime {

struct Prepared {
    // Header fields that stay on the outside (everything but Content-* and MIME-Version), CRLF, no
    // final blank line.
    std::string outer_headers;
    // The entity to protect: the Content-* fields, an empty line, the body. Canonical CRLF.
    SecureString entity;
};

// The message cut at the header: cheap, the body is not touched.
struct Split {
    std::string outer_headers;   // as in Prepared
    std::string content_fields;  // Content-* fields, CRLF; text/plain added when there was none
    std::string_view body;       // as given

    // The fields may hold what header protection hides (the real Subject, in the inner copy):
    // wiped when they go.
    Split() = default;
    Split(const Split&) = default;
    Split(Split&&) noexcept = default;
    Split& operator=(const Split&) = default;
    Split& operator=(Split&&) noexcept = default;
    ~Split() {
        cleanse(outer_headers);
        cleanse(content_fields);
    }
};
Split split(std::string_view message);

// True when `split.body` is already canonical (CRLF only) and, with `seven_bit`, transport-safe:
// then it can be signed or encrypted in place, without a copy.
bool body_ready(const Split& split, bool seven_bit);

// Appends the entity (content fields, an empty line, the body) in canonical form.
void append_entity(const Split& split, bool seven_bit, std::string& out);

// The same; when the body goes in as it is, it is copied in steps of some MiB and `copied` is
// called with the part of `split.body` copied so far after each, so the caller can let the source
// go behind the copy. Not called when the body is converted instead.
void append_entity(const Split& split, bool seven_bit, std::string& out,
                   const std::function<void(std::string_view copied)>& copied);

// With `seven_bit`, 8-bit and binary leaf parts are re-encoded: text as quoted-printable, anything
// else as base64. Throws Error(BadMessage) for unparseable MIME or nesting deeper than kMaxDepth.
Prepared prepare(std::string_view message, bool seven_bit);

// Only the entity part, for an entity that is already separated (a nested layer).
void append_canonical_entity(std::string_view entity, bool seven_bit, std::string& out);

inline constexpr int kMaxDepth = 32;

// True for header fields that belong to the MIME entity rather than the message (Content-*).
bool is_content_field(std::string_view name);

}  // namespace smime::mime
