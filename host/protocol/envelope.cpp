// SPDX-License-Identifier: MIT
// Envelope parsing: strict about types and unknown members, cheap for chunk frames.
#include "protocol/envelope.h"

#include "protocol/limits.h"
#include "util/error.h"
#include "util/strict_json.h"

namespace smime::envelope {

json error_reply(const json& id, const Error& error) {
    return {{"id", id},
            {"ok", false},
            {"error",
             {{"code", code_name(error.code())},
              {"message", error.what()},
              {"details", error.details()}}}};
}

namespace {

// A minimal scanner over a chunk frame; every failure just means "take the slow path".
class Scanner {
public:
    explicit Scanner(std::string_view text) : s_(text) {}

    void skip_ws() {
        while (p_ < s_.size() &&
               (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r'))
            ++p_;
    }
    bool consume(char ch) {
        skip_ws();
        if (p_ < s_.size() && s_[p_] == ch) {
            ++p_;
            return true;
        }
        return false;
    }
    bool peek(char ch) {
        skip_ws();
        return p_ < s_.size() && s_[p_] == ch;
    }
    // A string without escapes or control characters.
    std::optional<std::string_view> simple_string() {
        if (!consume('"')) return std::nullopt;
        const std::size_t start = p_;
        const auto end = s_.find('"', start);
        if (end == std::string_view::npos) return std::nullopt;
        const std::string_view body = s_.substr(start, end - start);
        if (body.find('\\') != std::string_view::npos) return std::nullopt;
        p_ = end + 1;
        return body;
    }
    std::optional<std::int64_t> integer() {
        skip_ws();
        const std::size_t start = p_;
        bool negative = false;
        if (p_ < s_.size() && s_[p_] == '-') {
            negative = true;
            ++p_;
        }
        std::uint64_t value = 0;
        std::size_t digits = 0;
        while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
            if (digits == 0 && s_[p_] == '0' && p_ + 1 < s_.size() && s_[p_ + 1] >= '0' &&
                s_[p_ + 1] <= '9')
                return std::nullopt;  // leading zero: not JSON
            value = value * 10 + static_cast<std::uint64_t>(s_[p_] - '0');
            if (++digits > 15) return std::nullopt;
            ++p_;
        }
        if (digits == 0 || p_ == start) return std::nullopt;
        if (p_ < s_.size() && (s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E'))
            return std::nullopt;
        const auto v = static_cast<std::int64_t>(value);
        return negative ? -v : v;
    }
    bool at_end() {
        skip_ws();
        return p_ == s_.size();
    }

private:
    std::string_view s_;
    std::size_t p_ = 0;
};

bool is_valid_id(const json& id) {
    if (id.is_null()) return true;
    if (id.is_number_integer()) return true;
    if (id.is_string()) return id.get_ref<const std::string&>().size() <= limits::kMaxIdLength;
    return false;
}

}  // namespace

std::optional<Chunk> parse_chunk_fast(std::string_view frame) {
    Scanner sc(frame);
    if (!sc.consume('{')) return std::nullopt;
    Chunk chunk;
    bool have_id = false, have_index = false, have_data = false;
    for (;;) {
        auto key = sc.simple_string();
        if (!key || !sc.consume(':')) return std::nullopt;
        if (*key == "id" && !have_id) {
            if (sc.peek('"')) {
                auto s = sc.simple_string();
                if (!s || s->size() > limits::kMaxIdLength) return std::nullopt;
                // Control characters and non-ASCII would need validation: leave them to the parser.
                for (unsigned char ch : *s)
                    if (ch < 0x20 || ch >= 0x80) return std::nullopt;
                chunk.id = std::string(*s);
            } else {
                auto n = sc.integer();
                if (!n) return std::nullopt;
                chunk.id = *n;
            }
            have_id = true;
        } else if (*key == "chunk" && !have_index) {
            auto n = sc.integer();
            if (!n || *n < 0) return std::nullopt;
            chunk.index = static_cast<std::uint64_t>(*n);
            have_index = true;
        } else if (*key == "data" && !have_data) {
            auto s = sc.simple_string();
            if (!s) return std::nullopt;
            chunk.data = *s;
            have_data = true;
        } else {
            return std::nullopt;
        }
        if (sc.consume(',')) continue;
        if (sc.consume('}')) break;
        return std::nullopt;
    }
    if (!sc.at_end() || !have_id || !have_index || !have_data) return std::nullopt;
    return chunk;
}

Parsed parse(std::string_view frame, json& id) {
    json doc;
    try {
        doc = strict_json::parse(frame);
    } catch (const json::parse_error& e) {
        // Only the offset goes back: the parser's own message quotes input, which may be a secret.
        throw Error(Code::BadJson, "frame is not valid UTF-8 JSON", {{"offset", e.byte}});
    } catch (const json::out_of_range&) {
        // A number beyond a double's range; its message quotes the token.
        throw Error(Code::BadJson, "frame holds a number out of range");
    } catch (const strict_json::DuplicateKey&) {
        // Which of the two values counts would depend on the parser: refuse instead.
        throw Error(Code::BadJson, "frame has an object with a member name twice");
    }
    if (!doc.is_object()) throw Error(Code::BadRequest, "a request must be a JSON object");

    if (auto it = doc.find("id"); it != doc.end()) {
        if (!is_valid_id(*it))
            throw Error(Code::BadRequest,
                        "id must be a string (at most 256 characters) or an integer",
                        {{"field", "id"}});
        id = *it;
    }

    Parsed out;
    out.id = id;
    if (doc.contains("chunk")) {
        for (const auto& [key, value] : doc.items())
            if (key != "id" && key != "chunk" && key != "data")
                throw Error(Code::BadRequest, "unknown member '" + key + "' in a chunk frame",
                            {{"field", key}});
        const auto& index = doc["chunk"];
        if (!index.is_number_unsigned() &&
            !(index.is_number_integer() && index.get<std::int64_t>() >= 0))
            throw Error(Code::BadRequest, "chunk must be a non-negative integer",
                        {{"field", "chunk"}});
        if (id.is_null())
            throw Error(Code::BadRequest, "a chunk frame needs the id of its request",
                        {{"field", "id"}});
        auto data = doc.find("data");
        if (data == doc.end() || !data->is_string())
            throw Error(Code::BadRequest, "a chunk frame needs a base64 string 'data'",
                        {{"field", "data"}});
        out.is_chunk = true;
        out.chunk.id = id;
        out.chunk.index = index.get<std::uint64_t>();
        out.chunk.owned = std::move(data->get_ref<std::string&>());
        out.chunk.data = out.chunk.owned;
        return out;
    }

    for (const auto& [key, value] : doc.items())
        if (key != "id" && key != "op" && key != "args")
            throw Error(Code::BadRequest, "unknown member '" + key + "' in a request",
                        {{"field", key}});
    auto op = doc.find("op");
    if (op == doc.end()) throw Error(Code::BadRequest, "missing 'op'", {{"field", "op"}});
    if (!op->is_string()) throw Error(Code::BadRequest, "'op' must be a string", {{"field", "op"}});
    out.op = op->get<std::string>();
    if (auto args = doc.find("args"); args != doc.end()) {
        if (!args->is_object())
            throw Error(Code::BadRequest, "'args' must be an object", {{"field", "args"}});
        out.args = std::move(*args);
    }
    return out;
}

std::string id_key(const json& id) { return id.dump(); }

std::optional<std::uint64_t> announced_chunks(const json& args) {
    if (!args.is_object()) return std::nullopt;
    for (const auto& [key, value] : args.items()) {
        if (!value.is_object()) continue;
        auto n = value.find("chunks");
        if (n != value.end() && n->is_number_unsigned()) return n->get<std::uint64_t>();
    }
    return std::nullopt;
}

}  // namespace smime::envelope
