// SPDX-License-Identifier: MIT
// BER walking with definite and indefinite lengths (X.690 section 8.1.3), depth-limited.
#include "engine/ber.h"

#include <openssl/objects.h>

#include <memory>
#include <vector>

namespace smime::engine {
namespace {

struct Element {
    unsigned char tag = 0;
    bool constructed = false;
    std::size_t header = 0;             // bytes of tag and length
    std::optional<std::size_t> length;  // nullopt: indefinite
};

constexpr int kMaxDepth = 32;

std::optional<Element> read_header(std::string_view in) {
    if (in.size() < 2) return std::nullopt;
    Element e;
    e.tag = static_cast<unsigned char>(in[0]);
    e.constructed = (e.tag & 0x20) != 0;
    if ((e.tag & 0x1f) == 0x1f) return std::nullopt;  // high tag numbers do not occur here
    const auto first = static_cast<unsigned char>(in[1]);
    e.header = 2;
    if (first == 0x80) {
        if (!e.constructed) return std::nullopt;
        return e;
    }
    if (first < 0x80) {
        e.length = first;
    } else {
        const std::size_t count = first & 0x7f;
        if (count > 4 || in.size() < 2 + count) return std::nullopt;
        std::size_t n = 0;
        for (std::size_t i = 0; i < count; ++i)
            n = (n << 8) | static_cast<unsigned char>(in[2 + i]);
        e.header += count;
        e.length = n;
    }
    if (in.size() - e.header < *e.length) return std::nullopt;
    return e;
}

// Total size of the element at the start of `in`, including an indefinite one's end-of-contents.
std::optional<std::size_t> element_size(std::string_view in, int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    const auto e = read_header(in);
    if (!e) return std::nullopt;
    if (e->length) return e->header + *e->length;
    std::size_t pos = e->header;
    while (true) {
        if (in.size() - pos >= 2 && in[pos] == 0 && in[pos + 1] == 0) return pos + 2;
        const auto child = element_size(in.substr(pos), depth + 1);
        if (!child) return std::nullopt;
        pos += *child;
    }
}

// The contents of the element at the start of `in` (without an indefinite form's EOC).
std::optional<std::string_view> contents(std::string_view in) {
    const auto e = read_header(in);
    const auto size = element_size(in, 0);
    if (!e || !size) return std::nullopt;
    return in.substr(e->header, *size - e->header - (e->length ? 0 : 2));
}

// The n-th child (0-based) inside the contents `in`.
std::optional<std::string_view> child(std::string_view in, int n) {
    std::size_t pos = 0;
    for (int i = 0;; ++i) {
        if (pos >= in.size()) return std::nullopt;
        const auto size = element_size(in.substr(pos), 0);
        if (!size) return std::nullopt;
        if (i == n) return in.substr(pos, *size);
        pos += *size;
    }
}

bool indefinite(std::string_view element) {
    const auto e = read_header(element);
    return e && !e->length;
}

}  // namespace

std::optional<DetachedContent> detach_encrypted_content(std::string_view der) {
    if (!indefinite(der)) return std::nullopt;
    const auto info = contents(der);
    const auto explicit_content = info ? child(*info, 1) : std::nullopt;
    if (!explicit_content || !indefinite(*explicit_content)) return std::nullopt;
    const auto inner = contents(*explicit_content);
    if (!inner || !indefinite(*inner)) return std::nullopt;
    const auto enveloped = contents(*inner);
    if (!enveloped) return std::nullopt;
    const auto second = child(*enveloped, 1);
    if (!second) return std::nullopt;
    const int index = static_cast<unsigned char>((*second)[0]) == 0xa0 ? 3 : 2;
    const auto eci = child(*enveloped, index);
    if (!eci || !indefinite(*eci)) return std::nullopt;
    const auto eci_contents = contents(*eci);
    const auto encrypted = eci_contents ? child(*eci_contents, 2) : std::nullopt;
    if (!encrypted) return std::nullopt;
    const auto header = read_header(*encrypted);
    if (!header) return std::nullopt;

    DetachedContent result;
    if (header->tag == 0x80) {  // [0] IMPLICIT OCTET STRING, primitive
        result.ciphertext.push_back(encrypted->substr(header->header, *header->length));
    } else if (header->tag == 0xa0) {  // constructed: OCTET STRING chunks
        const auto chunks = contents(*encrypted);
        if (!chunks) return std::nullopt;
        for (std::size_t pos = 0; pos < chunks->size();) {
            const auto e = read_header(chunks->substr(pos));
            if (!e || e->tag != 0x04 || !e->length) return std::nullopt;
            result.ciphertext.push_back(chunks->substr(pos + e->header, *e->length));
            pos += e->header + *e->length;
        }
    } else {
        return std::nullopt;
    }
    const std::size_t before = static_cast<std::size_t>(encrypted->data() - der.data());
    result.structure.reserve(der.size() - encrypted->size());
    result.structure.append(der.substr(0, before)).append(der.substr(before + encrypted->size()));
    return result;
}

std::optional<std::string> content_encryption_algorithm(std::string_view der) {
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
    const auto info = contents(der);
    if (!info) return std::nullopt;
    const auto explicit_content = child(*info, 1);
    if (!explicit_content) return std::nullopt;
    const auto inner = contents(*explicit_content);
    if (!inner) return std::nullopt;
    const auto enveloped = contents(*inner);  // (Auth)EnvelopedData SEQUENCE
    if (!enveloped) return std::nullopt;
    // version, originatorInfo [0] OPTIONAL, recipientInfos SET, encryptedContentInfo SEQUENCE
    int index = 1;
    const auto second = child(*enveloped, 1);
    if (!second) return std::nullopt;
    if (static_cast<unsigned char>((*second)[0]) == 0xa0) ++index;
    const auto eci = child(*enveloped, index + 1);
    if (!eci) return std::nullopt;
    const auto eci_contents = contents(*eci);
    if (!eci_contents) return std::nullopt;
    const auto algorithm = child(*eci_contents, 1);
    if (!algorithm) return std::nullopt;
    const auto algorithm_contents = contents(*algorithm);
    if (!algorithm_contents) return std::nullopt;
    const auto oid = child(*algorithm_contents, 0);
    if (!oid || (*oid)[0] != 0x06) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(oid->data());
    const std::unique_ptr<ASN1_OBJECT, void (*)(ASN1_OBJECT*)> object(
        d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(oid->size())), ASN1_OBJECT_free);
    if (!object) return std::nullopt;
    const int nid = OBJ_obj2nid(object.get());
    if (nid != NID_undef) return std::string(OBJ_nid2ln(nid));
    char text[96];
    if (OBJ_obj2txt(text, sizeof text, object.get(), 1) <= 0) return std::nullopt;
    return std::string(text);
}

}  // namespace smime::engine
