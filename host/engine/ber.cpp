// SPDX-License-Identifier: MIT
// BER walking with definite and indefinite lengths (X.690 section 8.1.3), depth-limited.
#include "engine/ber.h"

#include <openssl/objects.h>

#include <array>
#include <memory>
#include <span>
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

// Appends a header for `tag` with a definite `length` (X.690 section 8.1.3, DER form).
void append_header(std::string& out, unsigned char tag, std::size_t length) {
    out += static_cast<char>(tag);
    if (length < 0x80) {
        out += static_cast<char>(length);
        return;
    }
    unsigned char bytes[sizeof(std::size_t)];
    std::size_t count = 0;
    for (std::size_t n = length; n > 0; n >>= 8) bytes[count++] = static_cast<unsigned char>(n);
    out += static_cast<char>(0x80 | count);
    while (count > 0) out += static_cast<char>(bytes[--count]);
}

// `der` without `field`, which lies inside each of `around` (outermost first, each inside the one
// before): an element of definite length around it gets a header for its new length (which the
// shorter headers inside it shorten too); an indefinite one keeps its own. Worked out from the
// inside.
std::optional<std::string> without(std::string_view der, std::span<const std::string_view> around,
                                   std::string_view field) {
    constexpr std::size_t kMaxAround = 4;
    if (around.empty() || around.size() > kMaxAround) return std::nullopt;
    std::string headers[kMaxAround];
    std::size_t old_header[kMaxAround];
    std::size_t removed = field.size();
    for (std::size_t i = around.size(); i-- > 0;) {
        const auto e = read_header(around[i]);
        if (!e) return std::nullopt;
        old_header[i] = e->header;
        if (e->length) append_header(headers[i], e->tag, *e->length - removed);
        else headers[i].assign(around[i].substr(0, e->header));
        removed += e->header - headers[i].size();
    }
    std::string out;
    out.reserve(der.size() - field.size() + 16);
    out.append(der.data(), around[0].data());
    for (std::size_t i = 0; i < around.size(); ++i) {
        out.append(headers[i]);
        const char* next = i + 1 < around.size() ? around[i + 1].data() : field.data();
        out.append(around[i].data() + old_header[i], next);
    }
    out.append(field.data() + field.size(), der.data() + der.size());
    return out;
}

// Whether the ContentInfo starting `prefix` has `oid` (its whole DER element) as content type:
// ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, ... }, the SEQUENCE's header (its
// length may reach past the prefix), then the OID.
bool names_content_type(std::string_view prefix, std::string_view oid) {
    if (prefix.size() < 2 || static_cast<unsigned char>(prefix[0]) != 0x30) return false;
    const auto first = static_cast<unsigned char>(prefix[1]);
    std::size_t pos = 2;
    if (first > 0x80) pos += first & 0x7f;
    return prefix.substr(std::min(pos, prefix.size())).substr(0, oid.size()) == oid;
}

constexpr std::string_view kSignedData("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 11);
constexpr std::string_view kEnvelopedData("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", 11);
constexpr std::string_view kAuthEnvelopedData(
    "\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17", 13);

unsigned char tag_of(std::string_view element) { return static_cast<unsigned char>(element[0]); }

// The elements a ContentInfo's content lies in, outermost first: the ContentInfo itself, its
// [0] EXPLICIT and the content's SEQUENCE, in the shape RFC 5652 gives them.
std::optional<std::array<std::string_view, 3>> content_path(std::string_view der) {
    std::array<std::string_view, 3> around;
    const auto info_size = element_size(der, 0);
    if (!info_size) return std::nullopt;
    around[0] = der.substr(0, *info_size);
    const auto info = contents(around[0]);
    const auto explicit_content = info ? child(*info, 1) : std::nullopt;
    if (!explicit_content) return std::nullopt;
    around[1] = *explicit_content;
    const auto inner = contents(around[1]);
    const auto sequence = inner ? child(*inner, 0) : std::nullopt;
    if (!sequence) return std::nullopt;
    around[2] = *sequence;
    if (tag_of(around[1]) != 0xa0 || tag_of(around[2]) != 0x30) return std::nullopt;
    return around;
}

}  // namespace

bool names_enveloped_data(std::string_view prefix) {
    return names_content_type(prefix, kEnvelopedData) ||
           names_content_type(prefix, kAuthEnvelopedData);
}

std::optional<DetachedCertificates> detach_certificates(std::string_view der) {
    if (!names_content_type(der, kSignedData)) return std::nullopt;
    const auto around = content_path(der);
    const auto signed_data = around ? contents((*around)[2]) : std::nullopt;
    if (!signed_data) return std::nullopt;
    // SignedData ::= SEQUENCE { version INTEGER, digestAlgorithms SET, encapContentInfo SEQUENCE,
    // certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] IMPLICIT OPTIONAL, signerInfos }
    static constexpr unsigned char kTags[] = {0x02, 0x31, 0x30, 0xa0};
    std::string_view field;
    std::size_t pos = 0;
    for (const unsigned char tag : kTags) {
        if (pos >= signed_data->size()) return std::nullopt;
        const auto size = element_size(signed_data->substr(pos), 0);
        if (!size || tag_of(signed_data->substr(pos)) != tag) return std::nullopt;
        field = signed_data->substr(pos, *size);
        pos += *size;
    }
    // What follows must be crls [1] or signerInfos: a second field tagged [0] (in any form) would
    // take the removed one's place, where the whole object is refused.
    if (pos >= signed_data->size() ||
        (tag_of(signed_data->substr(pos)) != 0xa1 && tag_of(signed_data->substr(pos)) != 0x31))
        return std::nullopt;
    const auto entries = contents(field);
    if (!entries || entries->empty()) return std::nullopt;
    DetachedCertificates result;
    for (std::size_t at = 0; at < entries->size();) {
        const auto size = element_size(entries->substr(at), 0);
        // Certificate ::= SEQUENCE; the other CertificateChoices are context-tagged.
        if (!size || tag_of(entries->substr(at)) != 0x30 ||
            result.certificates.size() == kMaxDetachedCertificates)
            return std::nullopt;
        result.certificates.push_back(entries->substr(at, *size));
        at += *size;
    }
    auto structure = without(der, *around, field);
    if (!structure) return std::nullopt;
    result.structure = std::move(*structure);
    return result;
}

std::optional<DetachedContent> detach_encrypted_content(std::string_view der) {
    // The elements around encryptedContent, outermost first: ContentInfo, its [0] EXPLICIT,
    // the (Auth)EnvelopedData SEQUENCE and the EncryptedContentInfo SEQUENCE.
    if (!names_enveloped_data(der)) return std::nullopt;
    const auto path = content_path(der);
    const auto enveloped = path ? contents((*path)[2]) : std::nullopt;
    if (!enveloped) return std::nullopt;
    // version, originatorInfo [0] IMPLICIT OPTIONAL, recipientInfos, encryptedContentInfo, ...
    const auto second = child(*enveloped, 1);
    if (!second) return std::nullopt;
    const auto eci = child(*enveloped, tag_of(*second) == 0xa0 ? 3 : 2);
    if (!eci || tag_of(*eci) != 0x30) return std::nullopt;
    const std::string_view around[4] = {(*path)[0], (*path)[1], (*path)[2], *eci};
    const auto eci_contents = contents(around[3]);
    const auto encrypted = eci_contents ? child(*eci_contents, 2) : std::nullopt;
    // encryptedContent is the last field: anything after it would be left for OpenSSL to judge
    // apart from the content it belongs with.
    if (!encrypted ||
        encrypted->data() + encrypted->size() != eci_contents->data() + eci_contents->size())
        return std::nullopt;
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
    auto structure = without(der, around, *encrypted);
    if (!structure) return std::nullopt;
    result.structure = std::move(*structure);
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
