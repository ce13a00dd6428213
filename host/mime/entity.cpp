// SPDX-License-Identifier: MIT
// MIME entity parsing: header fields, Content-Type parameters, multipart bodies.
#include "mime/entity.h"

#include "util/error.h"
#include "util/secure.h"
#include "util/text.h"

#include <algorithm>

namespace smime::mime {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n";

std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(kWhitespace);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(kWhitespace);
    return s.substr(b, e - b + 1);
}

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_field_name_char(char c) { return c > 32 && c < 127 && c != ':'; }

// The length of the line starting at `pos`, including its line break (LF or CRLF), if any.
std::size_t line_length(std::string_view text, std::size_t pos) {
    const auto nl = text.find('\n', pos);
    return nl == std::string_view::npos ? text.size() - pos : nl + 1 - pos;
}

std::string unfold(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (const char c : raw) {
        if (c != '\r' && c != '\n') out.push_back(c);
    }
    std::string value(trim(out));
    cleanse(out);  // a field may be one header protection hides
    return value;
}

[[noreturn]] void malformed(const char* what) { throw Error(Code::BadMessage, what); }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower_char(x) == lower_char(y);
           });
}

const Field* Entity::find(std::string_view name) const {
    for (const Field& f : fields) {
        if (iequals(f.name, name)) return &f;
    }
    return nullptr;
}

Entity parse(std::string_view text) {
    Entity entity;
    std::size_t pos = 0;
    // A header that runs to the end of the text leaves an entity with an empty body.
    entity.body = text.substr(text.size());
    while (pos < text.size()) {
        const std::size_t len = line_length(text, pos);
        const std::string_view line = text.substr(pos, len);
        if (line == "\n" || line == "\r\n") {
            entity.body = text.substr(pos + len);
            break;
        }
        if (line.front() == ' ' || line.front() == '\t') {
            if (entity.fields.empty()) malformed("MIME header starts with a continuation line");
            Field& last = entity.fields.back();
            last.raw = std::string_view(last.raw.data(), last.raw.size() + len);
        } else {
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0)
                malformed("MIME header line without a field name");
            const std::string_view name = trim(line.substr(0, colon));
            if (name.empty() || !std::all_of(name.begin(), name.end(), is_field_name_char)) {
                malformed("MIME header field name has invalid characters");
            }
            if (entity.fields.size() >= kMaxFields) malformed("too many MIME header fields");
            entity.fields.push_back(Field{name, {}, line});
        }
        pos += len;
    }
    for (Field& f : entity.fields) f.value = unfold(f.raw.substr(f.raw.find(':') + 1));
    return entity;
}

bool ContentType::is(std::string_view full_type) const {
    const auto slash = full_type.find('/');
    return iequals(type, full_type.substr(0, slash)) &&
           iequals(subtype, full_type.substr(slash + 1));
}

std::string ContentType::param(const std::string& name) const {
    const auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
}

ContentType parse_content_type(std::string_view value) {
    ContentType ct;
    std::size_t pos = 0;
    const auto token = [&](std::string_view stops) {
        if (pos >= value.size()) return std::string_view();
        const auto start = pos;
        while (pos < value.size() && stops.find(value[pos]) == std::string_view::npos) ++pos;
        return trim(value.substr(start, pos - start));
    };
    const std::string_view type = token("/;");
    if (pos < value.size() && value[pos] == '/') {
        ++pos;
        const std::string_view subtype = token(";");
        if (!type.empty() && !subtype.empty()) {
            ct.type = text::ascii_lower(type);
            ct.subtype = text::ascii_lower(subtype);
        }
    }
    while (pos < value.size() && value[pos] == ';') {
        ++pos;
        std::string name = text::ascii_lower(token("=;"));
        if (pos >= value.size() || value[pos] != '=') continue;
        ++pos;
        while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
        std::string param_value;
        if (pos < value.size() && value[pos] == '"') {
            ++pos;
            while (pos < value.size() && value[pos] != '"') {
                if (value[pos] == '\\' && pos + 1 < value.size()) ++pos;
                param_value.push_back(value[pos++]);
            }
            if (pos < value.size()) ++pos;  // the closing quote, if there is one
            token(";");                     // skip anything after the closing quote
        } else {
            param_value = std::string(token(";"));
        }
        // RFC 2231 extended values ("name*=utf-8''x", "name*0=") are kept under the plain name.
        if (const auto star = name.find('*'); star != std::string::npos) name.resize(star);
        if (!name.empty()) ct.params[name] += param_value;
    }
    return ct;
}

ContentType content_type(const Entity& entity) {
    const Field* f = entity.find("Content-Type");
    if (!f) {
        ContentType ct;
        ct.params["charset"] = "us-ascii";
        return ct;
    }
    return parse_content_type(f->value);
}

std::string transfer_encoding(const Entity& entity) {
    const Field* f = entity.find("Content-Transfer-Encoding");
    if (!f || f->value.empty()) return "7bit";
    return text::ascii_lower(trim(f->value));
}

Multipart split_multipart(std::string_view body, std::string_view boundary) {
    if (boundary.empty() || boundary.size() > 200)
        malformed("multipart boundary missing or too long");
    std::string delimiter = "--";
    delimiter += boundary;

    Multipart result;
    std::size_t part_start = std::string_view::npos;  // start of the current part's bytes
    std::size_t search = 0;
    while (true) {
        const auto hit = body.find(delimiter, search);
        if (hit == std::string_view::npos) malformed("multipart body without its close delimiter");
        search = hit + 1;
        if (hit != 0 && body[hit - 1] != '\n') continue;
        std::size_t after = hit + delimiter.size();
        const bool close = body.substr(after, 2) == "--";
        if (close) after += 2;
        while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
        if (after < body.size() && body[after] != '\r' && body[after] != '\n') continue;
        if (after < body.size() && body[after] == '\r') {
            if (after + 1 >= body.size() || body[after + 1] != '\n') continue;
            ++after;
        }
        const std::size_t next = std::min(after + 1, body.size());  // first byte after the line
        // The line break before a delimiter belongs to the delimiter (RFC 2046 section 5.1.1).
        std::size_t end = hit;
        if (end > 0 && body[end - 1] == '\n') --end;
        if (end > 0 && body[end - 1] == '\r') --end;
        if (part_start == std::string_view::npos) {
            result.preamble = body.substr(0, end);
        } else {
            if (result.parts.size() >= kMaxParts) malformed("too many body parts");
            result.parts.push_back(
                body.substr(part_start, end < part_start ? 0 : end - part_start));
        }
        if (close) {
            if (part_start == std::string_view::npos) malformed("multipart body without parts");
            result.epilogue = body.substr(next);
            return result;
        }
        if (after >= body.size()) malformed("multipart body ends after a delimiter");
        part_start = next;
        search = next;
    }
}

}  // namespace smime::mime
