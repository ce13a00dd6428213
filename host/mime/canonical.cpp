// SPDX-License-Identifier: MIT
// Canonical, 7-bit safe MIME for signing: a fast path for the common all-ASCII message, and a
// recursive walk that re-encodes only the leaf parts that need it.
#include "mime/canonical.h"

#include "mime/encoding.h"
#include "mime/entity.h"
#include "util/error.h"
#include "util/large_buffer.h"

#include <algorithm>

namespace smime::mime {
namespace {

void append_fields(const Entity& entity, std::string& out, std::string_view skip = {}) {
    for (const Field& f : entity.fields) {
        if (!skip.empty() && iequals(f.name, skip)) continue;
        append_crlf(f.raw, out);
        if (out.empty() || out.back() != '\n') out.append("\r\n");
    }
}

void append_entity(std::string_view text, bool seven_bit, std::string& out, int depth) {
    if (depth > kMaxDepth) throw Error(Code::BadMessage, "MIME nesting too deep");
    if (const TextScan scan = scan_text(text); !seven_bit || scan.transport_safe) {
        if (scan.crlf) out.append(text);
        else append_crlf(text, out);
        return;
    }
    const Entity entity = parse(text);
    const ContentType type = content_type(entity);
    if (type.type == "multipart") {
        const std::string boundary = type.param("boundary");
        const Multipart multipart = split_multipart(entity.body, boundary);
        append_fields(entity, out);
        out.append("\r\n");
        // A preamble or epilogue is never shown; one that is not 7-bit clean is dropped.
        if (!multipart.preamble.empty() && is_transport_safe(multipart.preamble)) {
            append_crlf(multipart.preamble, out);
            out.append("\r\n");
        }
        for (const std::string_view part : multipart.parts) {
            out.append("--").append(boundary).append("\r\n");
            append_entity(part, seven_bit, out, depth + 1);
            out.append("\r\n");
        }
        out.append("--").append(boundary).append("--\r\n");
        if (!multipart.epilogue.empty() && is_transport_safe(multipart.epilogue))
            append_crlf(multipart.epilogue, out);
        return;
    }
    if (type.is("message/rfc822")) {
        // RFC 2046 section 5.2.1: message/rfc822 may only be 7bit, 8bit or binary; encode inside.
        append_fields(entity, out);
        out.append("\r\n");
        append_entity(entity.body, seven_bit, out, depth + 1);
        return;
    }
    const std::string encoding = transfer_encoding(entity);
    if (encoding == "base64" || encoding == "quoted-printable" || is_transport_safe(entity.body)) {
        append_crlf(text, out);
        return;
    }
    append_fields(entity, out, "Content-Transfer-Encoding");
    if (type.type == "text") {
        out.append("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        append_quoted_printable(entity.body, out);
    } else {
        out.append("Content-Transfer-Encoding: base64\r\n\r\n");
        append_base64_lines(entity.body, out);
    }
}

}  // namespace

bool is_content_field(std::string_view name) {
    return name.size() > 8 && iequals(name.substr(0, 8), "content-");
}

void append_canonical_entity(std::string_view entity, bool seven_bit, std::string& out) {
    append_entity(entity, seven_bit, out, 0);
}

Split split(std::string_view message) {
    const Entity entity = parse(message);
    Split result;
    // Room for the header with a CR before every LF: growing would free copies of it unwiped.
    const std::size_t header = static_cast<std::size_t>(entity.body.data() - message.data());
    result.outer_headers.reserve(2 * header + 2);
    result.content_fields.reserve(2 * header + 64);
    bool has_content_type = false;
    for (const Field& f : entity.fields) {
        if (iequals(f.name, "MIME-Version")) continue;  // the writer of the result adds its own
        std::string& target =
            is_content_field(f.name) ? result.content_fields : result.outer_headers;
        if (iequals(f.name, "Content-Type")) has_content_type = true;
        append_crlf(f.raw, target);
        if (target.back() != '\n') target.append("\r\n");
    }
    if (!has_content_type) {
        // RFC 2045 default is us-ascii; 8-bit text without a label is almost always UTF-8 today.
        result.content_fields.insert(0, is_7bit_safe(entity.body)
                                            ? "Content-Type: text/plain; charset=us-ascii\r\n"
                                            : "Content-Type: text/plain; charset=utf-8\r\n");
    }
    result.body = entity.body;
    return result;
}

bool body_ready(const Split& split, bool seven_bit) {
    const std::string_view body = split.body;
    const TextScan scan = scan_text(body);
    return (!seven_bit || scan.transport_safe) && scan.crlf;
}

void append_entity(const Split& split, bool seven_bit, std::string& out) {
    append_entity(split, seven_bit, out, nullptr);
}

void append_entity(const Split& split, bool seven_bit, std::string& out,
                   const std::function<void(std::string_view copied)>& copied) {
    // Room for the entity and for what a signer appends after it (the closing boundary and the
    // signature part): growing `out` later would free a block holding the content unwiped.
    constexpr std::size_t kRoomAfter = 16384;
    const TextScan scan = scan_text(split.body);
    if (!seven_bit || scan.transport_safe) {
        // Each bare LF gains a CR.
        const std::size_t added =
            scan.crlf
                ? 0
                : static_cast<std::size_t>(std::count(split.body.begin(), split.body.end(), '\n'));
        reserve_large(out, out.size() + split.content_fields.size() + 2 + split.body.size() +
                               added + kRoomAfter);
        out.append(split.content_fields).append("\r\n");
        if (!scan.crlf) {
            append_crlf(split.body, out);
        } else if (!copied) {
            out.append(split.body);
        } else {
            constexpr std::size_t kStep = 1u << 20;
            for (std::size_t at = 0; at < split.body.size();) {
                const std::size_t n = std::min(kStep, split.body.size() - at);
                out.append(split.body.substr(at, n));
                at += n;
                copied(split.body.substr(0, at));
            }
        }
        return;
    }
    // Re-encoding needs the whole entity parsed as one.
    std::string whole;
    whole.reserve(split.content_fields.size() + 2 + split.body.size());
    whole.append(split.content_fields).append("\r\n").append(split.body);
    // Quoted-printable is at most three characters a byte, with a soft line break every 75.
    reserve_large(out, out.size() + whole.size() / 75 * 234 + 234 + kRoomAfter);
    append_entity(whole, seven_bit, out, 0);
    cleanse(whole);
}

Prepared prepare(std::string_view message, bool seven_bit) {
    const Split parts = split(message);
    Prepared prepared;
    prepared.outer_headers = parts.outer_headers;
    append_entity(parts, seven_bit, prepared.entity.mutable_str());
    return prepared;
}

}  // namespace smime::mime
