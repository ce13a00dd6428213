// SPDX-License-Identifier: MIT
// Splits a MIME entity (RFC 2045, RFC 5322) into header fields and body, without copying the body.
#pragma once

#include "util/secure.h"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::mime {

// One header field as it appeared: `name` without the colon, `value` unfolded and trimmed.
// `raw` is the whole field including folded continuation lines and its final line break.
// The value is wiped when the field goes: it may be one that header protection hides (the real
// Subject).
struct Field {
    std::string_view name;
    std::string value;
    std::string_view raw;

    ~Field() { cleanse(value); }
};

// A parsed entity. Views point into the text given to parse(), which must outlive the entity.
struct Entity {
    std::vector<Field> fields;
    std::string_view body;

    // The first field with this name (case-insensitive), or nullptr.
    const Field* find(std::string_view name) const;
};

// Splits at the first empty line. An entity that starts with an empty line has no header fields
// (RFC 2046 section 5.1.1 allows that for body parts). Throws Error(BadMessage) on a header line
// that is not a field, on more than kMaxFields fields, or when no empty line ends the header.
Entity parse(std::string_view text);

inline constexpr std::size_t kMaxFields = 1000;

// A Content-Type value: lowercase type and subtype, parameters with lowercase names.
struct ContentType {
    std::string type = "text";
    std::string subtype = "plain";
    std::map<std::string, std::string> params;

    bool is(std::string_view full_type) const;  // "multipart/signed"
    std::string param(const std::string& name) const;
};

// RFC 2045 section 5.2: a missing Content-Type means text/plain; charset=us-ascii.
ContentType content_type(const Entity& entity);
ContentType parse_content_type(std::string_view value);

// The lowercase Content-Transfer-Encoding token; "7bit" when absent.
std::string transfer_encoding(const Entity& entity);

// The body parts of a multipart body (RFC 2046 section 5.1.1): each part's bytes exclude the
// delimiter lines and the line break that precedes each delimiter. Throws Error(BadMessage) when
// the boundary is empty, no part exists, or the close delimiter is missing.
struct Multipart {
    std::string_view preamble;
    std::vector<std::string_view> parts;
    std::string_view epilogue;
};
Multipart split_multipart(std::string_view body, std::string_view boundary);

inline constexpr std::size_t kMaxParts = 10000;

// Case-insensitive ASCII comparison (text::ascii_lower makes the lowercase copy).
bool iequals(std::string_view a, std::string_view b);

}  // namespace smime::mime
