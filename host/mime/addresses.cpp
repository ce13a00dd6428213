// SPDX-License-Identifier: MIT
// RFC 5322 address parsing: a lexer that drops comments and folding white space, then a
// recursive-descent parser over its tokens for the current and the obsolete grammar.
#include "mime/addresses.h"

#include "util/base64.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>

namespace smime::mime {
namespace {

// RFC 5322 section 3.2.3 atext, plus UTF-8 (RFC 6532 section 3.2).
bool is_atext(unsigned char c) {
    if (c >= 0x80) return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
           std::string_view::npos;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Control characters have no place in any address token, quoted or not (line breaks are gone:
// the value is unfolded).
bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

struct Token {
    enum class Kind { Atom, Quoted, Literal, Special };
    Kind kind = Kind::Special;
    std::string text;           // atom text, unquoted string, "[literal]", or the special character
    bool space_before = false;  // white space or a comment came before it

    bool is(char special) const {
        return kind == Kind::Special && text.size() == 1 && text[0] == special;
    }
    bool is_word() const { return kind == Kind::Atom || kind == Kind::Quoted; }
};

class Lexer {
public:
    explicit Lexer(std::string_view value) : s_(value) {}

    // All tokens, or nullopt for anything malformed.
    std::optional<std::vector<Token>> run() {
        std::vector<Token> tokens;
        while (true) {
            bool space = false;
            if (!skip_cfws(space)) return std::nullopt;
            if (i_ >= s_.size()) return tokens;
            Token t;
            t.space_before = space;
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                if (!quoted(t.text)) return std::nullopt;
                t.kind = Token::Kind::Quoted;
            } else if (c == '[') {
                if (!literal(t.text)) return std::nullopt;
                t.kind = Token::Kind::Literal;
            } else if (is_atext(c)) {
                while (i_ < s_.size() && is_atext(static_cast<unsigned char>(s_[i_])))
                    t.text.push_back(s_[i_++]);
                t.kind = Token::Kind::Atom;
            } else if (std::string_view("<>:;@,.").find(static_cast<char>(c)) !=
                       std::string_view::npos) {
                t.text.assign(1, static_cast<char>(c));
                ++i_;
            } else {
                return std::nullopt;  // ')', ']', '\\' out of place, or a control character
            }
            tokens.push_back(std::move(t));
        }
    }

private:
    // CFWS: white space and (nested) comments. False for an unclosed comment.
    bool skip_cfws(bool& skipped) {
        while (i_ < s_.size()) {
            if (is_space(s_[i_])) {
                ++i_;
            } else if (s_[i_] == '(') {
                int depth = 0;
                do {
                    if (i_ >= s_.size()) return false;
                    const auto c = static_cast<unsigned char>(s_[i_]);
                    if (is_control(c)) return false;
                    if (c == '\\') {
                        if (++i_ >= s_.size() || is_control(static_cast<unsigned char>(s_[i_])))
                            return false;
                    } else if (c == '(') {
                        ++depth;
                    } else if (c == ')') {
                        --depth;
                    }
                    ++i_;
                } while (depth > 0);
            } else {
                break;
            }
            skipped = true;
        }
        return true;
    }

    // A quoted-string (RFC 5322 section 3.2.4), unescaped into `out`.
    bool quoted(std::string& out) {
        for (++i_; i_ < s_.size(); ++i_) {
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (is_control(c)) return false;
            if (c == '\\') {
                if (++i_ >= s_.size() || is_control(static_cast<unsigned char>(s_[i_])))
                    return false;
            }
            out.push_back(s_[i_]);
        }
        return false;
    }

    // A domain-literal (section 3.4.1), kept with its brackets, inner white space dropped.
    bool literal(std::string& out) {
        out.push_back('[');
        for (++i_; i_ < s_.size(); ++i_) {
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == ']') {
                ++i_;
                out.push_back(']');
                return true;
            }
            if (is_control(c) || c == '[' || c == '\\') return false;
            if (!is_space(s_[i_])) out.push_back(s_[i_]);
        }
        return false;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_dot_atom(std::string_view text) {
    if (text.empty() || text.front() == '.' || text.back() == '.') return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '.') {
            if (text[i - 1] == '.') return false;
        } else if (!is_atext(static_cast<unsigned char>(text[i]))) {
            return false;
        }
    }
    return true;
}

// An RFC 2047 encoded-word in UTF-8, US-ASCII or ISO-8859-1, decoded to UTF-8; nullopt for any
// other atom, another charset, or a decoding with control characters in it.
std::optional<std::string> decode_encoded_word(std::string_view atom) {
    if (atom.size() < 8 || atom.substr(0, 2) != "=?" || atom.substr(atom.size() - 2) != "?=")
        return std::nullopt;
    const std::string_view inner = atom.substr(2, atom.size() - 4);
    const auto q1 = inner.find('?');
    if (q1 == std::string_view::npos || q1 + 2 >= inner.size() || inner[q1 + 2] != '?')
        return std::nullopt;
    std::string charset = text::ascii_lower(inner.substr(0, q1));
    if (const auto star = charset.find('*'); star != std::string::npos)
        charset.resize(star);  // RFC 2231 language
    const char encoding = lower_ascii(inner[q1 + 1]);
    const std::string_view text = inner.substr(q1 + 3);
    std::string raw;
    if (encoding == 'b') {
        if (!base64::decode_lenient_append(text, raw)) return std::nullopt;
    } else if (encoding == 'q') {
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '_') {
                raw.push_back(' ');
            } else if (text[i] == '=') {
                if (i + 2 >= text.size()) return std::nullopt;
                const int hi = text::hex_digit(text[i + 1]), lo = text::hex_digit(text[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                raw.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
            } else {
                raw.push_back(text[i]);
            }
        }
    } else {
        return std::nullopt;
    }
    std::string out;
    if (charset == "utf-8" || charset == "us-ascii") {
        out = std::move(raw);
    } else if (charset == "iso-8859-1" || charset == "latin1") {
        for (const char ch : raw) {
            const auto c = static_cast<unsigned char>(ch);
            if (c < 0x80) {
                out.push_back(ch);
            } else {
                out.push_back(static_cast<char>(0xc0 | (c >> 6)));
                out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
            }
        }
    } else {
        return std::nullopt;
    }
    if (std::any_of(out.begin(), out.end(),
                    [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
        return std::nullopt;
    }
    return out;
}

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

    // address-list / mailbox-list, with the empty members obs-addr-list and obs-mbox-list allow.
    std::optional<std::vector<Mailbox>> list(bool groups) {
        std::vector<Mailbox> out;
        while (!at_end()) {
            if (peek().is(',')) {
                ++p_;
                continue;
            }
            if (!address(groups, out)) return std::nullopt;
            if (at_end()) break;
            if (!peek().is(',')) return std::nullopt;
            ++p_;
        }
        return out;
    }

private:
    bool at_end() const { return p_ >= t_.size(); }
    const Token& peek() const { return t_[p_]; }
    bool next_is(char special) const { return !at_end() && peek().is(special); }

    // Words and dots up to the next other token: a phrase, or a local part.
    std::vector<const Token*> words_and_dots() {
        std::vector<const Token*> out;
        while (!at_end() && (peek().is_word() || peek().is('.'))) out.push_back(&t_[p_++]);
        return out;
    }

    // display-name = phrase = word *(word / "." / CFWS) (obs-phrase allows the dots).
    static bool is_phrase(const std::vector<const Token*>& tokens) {
        return !tokens.empty() && tokens.front()->is_word();
    }

    static std::string display_name(const std::vector<const Token*>& tokens) {
        std::string out;
        bool previous_encoded = false;
        for (const Token* t : tokens) {
            std::optional<std::string> decoded;
            if (t->kind == Token::Kind::Atom) decoded = decode_encoded_word(t->text);
            // RFC 2047 section 6.2: white space between adjacent encoded-words is not displayed.
            if (!out.empty() && t->space_before && !(decoded && previous_encoded))
                out.push_back(' ');
            out += decoded ? *decoded : t->text;
            previous_encoded = decoded.has_value();
        }
        return out;
    }

    // local-part = dot-atom / quoted-string / obs-local-part, i.e. word *("." word).
    static std::optional<std::string> local_part(const std::vector<const Token*>& tokens) {
        if (tokens.empty() || tokens.size() % 2 == 0) return std::nullopt;
        std::string joined;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if ((i % 2 == 0) != tokens[i]->is_word()) return std::nullopt;
            joined += tokens[i]->text;
        }
        if (is_dot_atom(joined)) return joined;
        std::string quoted = "\"";
        for (const char c : joined) {
            if (c == '"' || c == '\\') quoted.push_back('\\');
            quoted.push_back(c);
        }
        return quoted + "\"";
    }

    // domain = dot-atom / domain-literal / obs-domain (atom *("." atom)).
    std::optional<std::string> domain() {
        if (at_end()) return std::nullopt;
        if (peek().kind == Token::Kind::Literal) return t_[p_++].text;
        std::string out;
        while (true) {
            if (at_end() || peek().kind != Token::Kind::Atom) return std::nullopt;
            out += t_[p_++].text;
            if (!next_is('.')) return out;
            ++p_;
            out.push_back('.');
        }
    }

    std::optional<std::string> addr_spec(const std::vector<const Token*>& local) {
        const auto local_text = local_part(local);
        if (!local_text || !next_is('@')) return std::nullopt;
        ++p_;
        const auto domain_text = domain();
        if (!domain_text) return std::nullopt;
        std::string address = *local_text + "@" + *domain_text;
        std::transform(address.begin(), address.end(), address.begin(), lower_ascii);
        return address;
    }

    // angle-addr = "<" addr-spec ">" / obs-angle-addr ("<" obs-route addr-spec ">"), after the "<".
    std::optional<std::string> angle_addr() {
        if (next_is('@') || next_is(',')) {
            // obs-route = obs-domain-list ":"; obs-domain-list = *(CFWS / ",") "@" domain
            // *("," [CFWS] ["@" domain]). The route is ignored (RFC 5322 section 4.4).
            while (next_is(',')) ++p_;
            if (!next_is('@')) return std::nullopt;
            ++p_;
            if (!domain()) return std::nullopt;
            while (next_is(',')) {
                ++p_;
                if (next_is('@')) {
                    ++p_;
                    if (!domain()) return std::nullopt;
                }
            }
            if (!next_is(':')) return std::nullopt;
            ++p_;
        }
        auto address = addr_spec(words_and_dots());
        if (!address || !next_is('>')) return std::nullopt;
        ++p_;
        return address;
    }

    // address = mailbox / group; mailbox = name-addr / addr-spec. Appends its mailboxes.
    bool address(bool groups, std::vector<Mailbox>& out) {
        const std::vector<const Token*> phrase = words_and_dots();
        if (next_is('<')) {
            if (!phrase.empty() && !is_phrase(phrase)) return false;
            ++p_;
            auto address = angle_addr();
            if (!address) return false;
            out.push_back({display_name(phrase), std::move(*address)});
            return true;
        }
        if (next_is('@')) {
            auto address = addr_spec(phrase);
            if (!address) return false;
            out.push_back({{}, std::move(*address)});
            return true;
        }
        if (next_is(':') && groups && is_phrase(phrase)) {
            // group = display-name ":" [group-list] ";"; no groups within groups.
            ++p_;
            while (!next_is(';')) {
                if (at_end()) return false;
                if (next_is(',')) {
                    ++p_;
                    continue;
                }
                if (!address(false, out)) return false;
                if (!next_is(',') && !next_is(';')) return false;
            }
            ++p_;
            return true;
        }
        return false;
    }

    std::vector<Token> t_;
    std::size_t p_ = 0;
};

std::optional<std::vector<Mailbox>> parse(std::string_view value, bool groups) {
    auto tokens = Lexer(value).run();
    if (!tokens) return std::nullopt;
    return Parser(std::move(*tokens)).list(groups);
}

}  // namespace

std::optional<std::vector<Mailbox>> parse_address_list(std::string_view value) {
    return parse(value, true);
}

std::optional<std::vector<Mailbox>> parse_mailbox_list(std::string_view value) {
    return parse(value, false);
}

std::vector<std::string> address_list(std::string_view value, std::string_view field) {
    const auto mailboxes = parse_address_list(value);
    if (!mailboxes) {
        throw Error(Code::BadMessage,
                    "the " + std::string(field) + " field is not a valid RFC 5322 address list",
                    {{"field", std::string(field)}});
    }
    std::vector<std::string> out;
    for (const Mailbox& m : *mailboxes) {
        if (std::find(out.begin(), out.end(), m.address) == out.end()) out.push_back(m.address);
    }
    return out;
}

FromAddress from_address(const std::vector<std::string_view>& from_values) {
    FromAddress from;
    if (from_values.empty()) return from;
    if (from_values.size() > 1) {
        from.problem = FromAddress::Problem::MultipleFromFields;
        return from;
    }
    const auto mailboxes = parse_mailbox_list(from_values.front());
    if (!mailboxes) {
        from.problem = FromAddress::Problem::Unparseable;
    } else if (mailboxes->empty()) {
        from.problem = FromAddress::Problem::NoFrom;
    } else if (mailboxes->size() > 1) {
        from.problem = FromAddress::Problem::MultipleMailboxes;
    } else {
        from.problem = FromAddress::Problem::None;
        from.address = mailboxes->front().address;
    }
    return from;
}

FromAddress from_address(const Entity& entity) {
    std::vector<std::string_view> values;
    for (const Field& field : entity.fields) {
        if (iequals(field.name, "From")) values.push_back(field.value);
    }
    return from_address(values);
}

std::string_view describe(FromAddress::Problem problem) {
    switch (problem) {
        case FromAddress::Problem::None: return "one From address";
        case FromAddress::Problem::NoFrom: return "the message has no From address";
        case FromAddress::Problem::MultipleFromFields:
            return "the message has more than one From field";
        case FromAddress::Problem::MultipleMailboxes:
            return "the From field names more than one mailbox";
        case FromAddress::Problem::Unparseable:
            return "the From field is not a valid RFC 5322 mailbox list";
    }
    return "the From field cannot be read";
}

}  // namespace smime::mime
