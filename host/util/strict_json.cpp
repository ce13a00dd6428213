// SPDX-License-Identifier: MIT
// Duplicate member names are found while parsing, with one set of names per open object.
//
// Requests carry messages as long base64 strings, which nlohmann's lexer reads a character at a
// time (some 80 instructions a byte). A first pass over the text lifts out every long string
// value that is plain printable ASCII without escapes, whose JSON text is therefore its value;
// the parser then reads the rest with empty strings in their place, and the lifted values are put
// back as the parser reports each string value. Whatever the parser refuses is parsed again
// whole, so that errors (and their offsets) are those of the text as sent.
#include "util/strict_json.h"

#include "util/secure.h"

#include <set>
#include <vector>

namespace smime::strict_json {
namespace {

using json = nlohmann::json;

// Shorter strings are not worth the bookkeeping.
constexpr std::size_t kLiftFrom = 256;

// A request may carry secrets (a password beside a PKCS#12, a passphrase) and plaintext mail:
// both copies are wiped when they go.
struct Lifted {
    std::string skeleton;              // the text with lifted strings emptied
    std::vector<std::string> values;   // the lifted strings, in document order
    std::vector<std::size_t> indices;  // which string value (in document order) each one is
    Lifted() = default;
    Lifted(const Lifted&) = delete;
    Lifted& operator=(const Lifted&) = delete;
    ~Lifted() {
        cleanse(skeleton);
        for (auto& value : values) cleanse(value);
    }
};

bool plain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// Splits `text` into a skeleton and its long plain string values. Returns false (nothing lifted)
// when the text is not shaped as expected, in which case the parser reads it whole.
bool lift(std::string_view text, Lifted& out) {
    out.skeleton.reserve(text.size());  // one buffer: growing would free copies unwiped
    std::size_t copied = 0, string_values = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '"') continue;
        // A string token starts here (outside strings, a quote can only start one).
        const std::size_t start = i + 1;
        std::size_t end = start;
        bool is_plain = true;
        for (; end < text.size(); ++end) {
            const char c = text[end];
            if (c == '"') break;
            if (c == '\\') {
                is_plain = false;
                ++end;  // the escaped character
                continue;
            }
            is_plain = is_plain && plain(static_cast<unsigned char>(c));
        }
        if (end >= text.size()) return false;  // unterminated: the parser says where
        std::size_t after = end + 1;
        while (after < text.size() && (text[after] == ' ' || text[after] == '\t' ||
                                       text[after] == '\n' || text[after] == '\r'))
            ++after;
        const bool is_key = after < text.size() && text[after] == ':';
        if (!is_key) {
            if (is_plain && end - start >= kLiftFrom) {
                out.skeleton.append(text.substr(copied, start - copied));
                out.values.emplace_back(text.substr(start, end - start));
                out.indices.push_back(string_values);
                copied = end;
            }
            ++string_values;
        }
        i = end;
    }
    if (out.values.empty()) return false;
    out.skeleton.append(text.substr(copied));
    return true;
}

json parse_checked(std::string_view text, Lifted* lifted) {
    std::vector<std::set<std::string, std::less<>>> open;
    std::size_t string_values = 0, next_lifted = 0;
    const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start: open.emplace_back(); break;
            case json::parse_event_t::object_end:
                if (!open.empty()) open.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second)
                    throw DuplicateKey(parsed.get<std::string>());
                break;
            case json::parse_event_t::value:
                if (lifted && parsed.is_string()) {
                    if (next_lifted < lifted->indices.size() &&
                        lifted->indices[next_lifted] == string_values)
                        parsed = std::move(lifted->values[next_lifted++]);
                    ++string_values;
                }
                break;
            default: break;
        }
        return true;
    };
    json doc = json::parse(text.begin(), text.end(), check);
    if (lifted && next_lifted != lifted->values.size())
        throw std::logic_error("strict_json: lifted strings out of step");
    return doc;
}

}  // namespace

nlohmann::json parse(std::string_view text) {
    Lifted lifted;
    if (lift(text, lifted)) {
        try {
            return parse_checked(lifted.skeleton, &lifted);
        } catch (const std::exception&) {
            // Parsed again whole below: the error, and its offset, must be the text's own.
        }
    }
    return parse_checked(text, nullptr);
}

}  // namespace smime::strict_json
