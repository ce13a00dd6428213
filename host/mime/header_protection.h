// SPDX-License-Identifier: MIT
// Header protection (RFC 9788): writing an inner copy of a message's header fields into the entity
// that gets signed or encrypted, and reading a protected message back as one set of header fields.
#pragma once

#include "mime/addresses.h"
#include "mime/canonical.h"
#include "mime/entity.h"

#include <string>
#include <string_view>
#include <vector>

namespace smime::mime {

// A header field copied out of a message, so that it outlives the message's buffer.
struct HeaderField {
    std::string name;
    std::string value;  // unfolded, as Field::value
    std::string raw;    // the whole field, folding kept, ending in CRLF
};

// The fields of `entity` that describe the message rather than its MIME structure: everything but
// Content-* and MIME-Version (RFC 9788 section 1.1: the non-structural header fields).
std::vector<HeaderField> message_fields(const Entity& entity);

// What the reader of a protected message is shown (RFC 9788 section 4): the header fields inside
// the protected entity win; an outer field is kept only when the inner set has no field of that
// name. Without inner header fields the outer ones are the message's.
struct OpenedHeader {
    std::string fields;          // the message's header fields, CRLF each (no MIME-Version)
    std::string content_fields;  // the entity's Content-* fields, CRLF each
    bool is_protected = false;   // the entity carried header fields (or an hp parameter) of its own
    // Lowercase names of fields whose outer values differ from the protected ones: compared are the
    // fields the inner set has, and user-facing fields (From, To, Subject, ...) only the outer has.
    std::vector<std::string> differing_fields;
    FromAddress from;  // from the From fields shown (the inner ones when there are any)
};

// `inner` is the innermost entity of the message, or nullptr when there is none to read (content
// that is not MIME, or an encrypted layer left closed). HP-Outer fields are dropped: they describe
// the wrapping, not the message.
OpenedHeader open_header(const std::vector<HeaderField>& outer, const Entity* inner);

// Writing: the header fields of `split` are copied into its entity (Bcc never: it would reach
// every recipient), and the entity's Content-Type gets hp="clear" (signed only) or hp="cipher"
// (encrypted). For Cipher the outer Subject becomes "[...]" (hcp_baseline, RFC 9788 section
// 3.2.1) and the inner copy records each outer field in an HP-Outer field (section 2.2).
// Throws Error(BadMessage) when the entity already has an hp parameter.
enum class Protection { Clear, Cipher };
void protect_headers(Split& split, Protection protection);

}  // namespace smime::mime
