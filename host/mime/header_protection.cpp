// SPDX-License-Identifier: MIT
// RFC 9788 header protection: the inner header copy on writing, one header set on reading.
#include "mime/header_protection.h"

#include "mime/encoding.h"
#include "util/error.h"
#include "util/secure.h"
#include "util/text.h"

#include <algorithm>
#include <set>

namespace smime::mime {
namespace {

constexpr std::string_view kHpOuter = "HP-Outer";

// User-facing fields (RFC 9788 section 1.1.2): an outer one the protected set lacks is reported.
constexpr std::string_view kUserFacing[] = {"from",
                                            "sender",
                                            "reply-to",
                                            "to",
                                            "cc",
                                            "bcc",
                                            "subject",
                                            "date",
                                            "message-id",
                                            "in-reply-to",
                                            "references",
                                            "followup-to",
                                            "mail-followup-to"};

bool is_user_facing(std::string_view lower_name) {
    return std::find(std::begin(kUserFacing), std::end(kUserFacing), lower_name) !=
           std::end(kUserFacing);
}

// Values compared as people read them: folding and runs of white space do not count.
std::string normalized(std::string_view value) {
    std::string out;
    bool space = false;
    for (const char c : value) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = !out.empty();
        } else {
            if (space) out.push_back(' ');
            space = false;
            out.push_back(c);
        }
    }
    return out;
}

std::vector<std::string> values_named(const std::vector<HeaderField>& fields,
                                      std::string_view lower_name) {
    std::vector<std::string> out;
    for (const HeaderField& f : fields) {
        if (text::ascii_lower(f.name) == lower_name) out.push_back(normalized(f.value));
    }
    return out;
}

std::string crlf_raw(std::string_view raw) {
    std::string out;
    append_crlf(raw, out);
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out.append("\r\n");
    return out;
}

}  // namespace

std::vector<HeaderField> message_fields(const Entity& entity) {
    std::vector<HeaderField> out;
    for (const Field& f : entity.fields) {
        if (is_content_field(f.name) || iequals(f.name, "MIME-Version")) continue;
        out.push_back({std::string(f.name), f.value, crlf_raw(f.raw)});
    }
    return out;
}

OpenedHeader open_header(const std::vector<HeaderField>& outer, const Entity* inner) {
    OpenedHeader header;
    std::vector<HeaderField> protected_fields;
    if (inner) {
        for (HeaderField& f : message_fields(*inner)) {
            if (!iequals(f.name, kHpOuter)) protected_fields.push_back(std::move(f));
        }
        for (const Field& f : inner->fields) {
            if (is_content_field(f.name)) header.content_fields += crlf_raw(f.raw);
        }
        header.is_protected =
            !protected_fields.empty() || !content_type(*inner).param("hp").empty();
    }
    std::set<std::string> inner_names;
    for (const HeaderField& f : protected_fields) inner_names.insert(text::ascii_lower(f.name));

    std::vector<std::string_view> from_values;
    for (const HeaderField& f : outer) {
        if (inner_names.count(text::ascii_lower(f.name))) continue;
        header.fields += f.raw;
        if (iequals(f.name, "From")) from_values.push_back(f.value);
    }
    for (const HeaderField& f : protected_fields) {
        header.fields += f.raw;
        if (iequals(f.name, "From")) from_values.push_back(f.value);
    }
    header.from = from_address(from_values);

    if (header.is_protected) {
        std::set<std::string> compared = inner_names;
        for (const HeaderField& f : outer) {
            const std::string name = text::ascii_lower(f.name);
            if (is_user_facing(name)) compared.insert(name);
        }
        for (const std::string& name : compared) {
            if (values_named(outer, name) != values_named(protected_fields, name))
                header.differing_fields.push_back(name);
        }
    }
    // The protected fields were encrypted: no copy outlives its use.
    for (HeaderField& f : protected_fields) {
        cleanse(f.value);
        cleanse(f.raw);
    }
    return header;
}

void protect_headers(Split& split, Protection protection) {
    const Entity content = parse(split.content_fields);
    const Field* type = content.find("Content-Type");
    if (!type)
        throw Error(Code::BadMessage, "the message has no Content-Type to mark as protected");
    if (!parse_content_type(type->value).param("hp").empty()) {
        throw Error(Code::BadMessage, "the message carries protected header fields already");
    }
    const char* const hp = protection == Protection::Cipher ? "cipher" : "clear";

    const Entity outer_entity = parse(split.outer_headers);  // its values are wiped as it goes
    std::string inner, outer, hp_outer;
    inner.reserve(2 * split.outer_headers.size() + 16);  // CRLF at most doubles it: no regrowth
    for (const Field& f : outer_entity.fields) {
        std::string raw = crlf_raw(f.raw);
        if (!iequals(f.name, "Bcc")) inner += raw;
        // hcp_baseline: only the Subject is obscured.
        const bool obscured = protection == Protection::Cipher && iequals(f.name, "Subject");
        const std::string_view sent = obscured ? std::string_view("Subject: [...]\r\n") : raw;
        outer += sent;
        if (protection == Protection::Cipher && !iequals(f.name, "Bcc"))
            hp_outer.append(kHpOuter).append(": ").append(sent);
        cleanse(raw);
    }

    std::string fields;
    fields.reserve(inner.size() + hp_outer.size() + 2 * split.content_fields.size() + 64);
    fields.append(inner).append(hp_outer);
    cleanse(inner);
    for (const Field& f : content.fields) {
        std::string raw = crlf_raw(f.raw);
        if (&f == type) raw.insert(raw.size() - 2, std::string("; hp=\"") + hp + "\"");
        fields += raw;
        cleanse(raw);
    }
    // The strings replaced here held the real Subject: wiped before their buffers go.
    cleanse(split.content_fields);
    split.content_fields = std::move(fields);
    cleanse(split.outer_headers);
    split.outer_headers = std::move(outer);
}

}  // namespace smime::mime
