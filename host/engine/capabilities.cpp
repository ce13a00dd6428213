// SPDX-License-Identifier: MIT
// SMIMECapabilities and SMIMEEncryptionKeyPreference, including the bit of DER the latter needs
// because OpenSSL has no type for it.
#include "engine/capabilities.h"

#include "util/error.h"
#include "util/log.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

namespace smime::engine {
namespace {

// id-aa-encrypKeyPref (RFC 8551 section 2.5.3).
constexpr const char* kEncryptionKeyPreferenceOid = "1.2.840.113549.1.9.16.2.11";

void free_algors(X509_ALGORS* a) { sk_X509_ALGOR_pop_free(a, X509_ALGOR_free); }
using AlgorsPtr = std::unique_ptr<X509_ALGORS, void (*)(X509_ALGORS*)>;
using ObjectPtr = std::unique_ptr<ASN1_OBJECT, void (*)(ASN1_OBJECT*)>;

ObjectPtr preference_oid() {
    return ObjectPtr(OBJ_txt2obj(kEncryptionKeyPreferenceOid, 1), ASN1_OBJECT_free);
}

void append_length(std::string& out, std::size_t n) {
    if (n < 128) {
        out.push_back(static_cast<char>(n));
        return;
    }
    std::string bytes;
    for (; n; n >>= 8) bytes.insert(bytes.begin(), static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(0x80 | bytes.size()));
    out += bytes;
}

template <typename T, int (*I2d)(const T*, unsigned char**)>
std::string der_of(const T* value) {
    const int n = I2d(value, nullptr);
    if (n <= 0) return {};
    std::string out(static_cast<std::size_t>(n), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    I2d(value, &p);
    return out;
}

// One DER element: its tag byte and content. Only the forms this attribute uses.
struct Tlv {
    unsigned char tag = 0;
    std::string_view content;
};

std::optional<Tlv> read_tlv(std::string_view der) {
    if (der.size() < 2) return std::nullopt;
    Tlv tlv{static_cast<unsigned char>(der[0]), {}};
    std::size_t pos = 2;
    std::size_t length = static_cast<unsigned char>(der[1]);
    if (length & 0x80) {
        const std::size_t count = length & 0x7f;
        if (count == 0 || count > 4 || der.size() < 2 + count) return std::nullopt;
        length = 0;
        for (std::size_t i = 0; i < count; ++i)
            length = (length << 8) | static_cast<unsigned char>(der[2 + i]);
        pos += count;
    }
    if (der.size() - pos < length) return std::nullopt;
    tlv.content = der.substr(pos, length);
    return tlv;
}

}  // namespace

void add_capabilities(CMS_SignerInfo* si, EVP_PKEY* key) {
    X509_ALGORS* raw = nullptr;
    const int nids[] = {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc, NID_aes_192_cbc,
                        NID_aes_128_cbc};
    bool ok = true;
    for (const int nid : nids) ok = ok && CMS_add_simple_smimecap(&raw, nid, -1);
    const int base = EVP_PKEY_get_base_id(key);
    if (base == EVP_PKEY_RSA || base == EVP_PKEY_RSA_PSS)
        ok = ok && CMS_add_simple_smimecap(&raw, NID_rsaesOaep, -1);
    const AlgorsPtr algs(raw, free_algors);
    if (!ok || !CMS_add_smimecap(si, algs.get())) {
        log::openssl_errors("adding SMIMECapabilities");
        throw Error(Code::Internal, "cannot add SMIMECapabilities");
    }
}

void add_encryption_key_preference(CMS_SignerInfo* si, X509* cert) {
    // SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0] IssuerAndSerialNumber,
    // ...} with IMPLICIT tags (RFC 8551 appendix A), so [0] replaces the SEQUENCE tag.
    const std::string content =
        der_of<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(cert)) +
        der_of<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert));
    std::string value = "\xa0";
    append_length(value, content.size());
    value += content;
    // V_ASN1_OTHER: the ASN1_STRING holds the whole encoding, tag included, written verbatim.
    ASN1_STRING* raw = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
    if (!raw || !ASN1_STRING_set(raw, value.data(), static_cast<int>(value.size()))) {
        ASN1_STRING_free(raw);
        throw Error(Code::Internal, "cannot add SMIMEEncryptionKeyPreference");
    }
    // X509_ATTRIBUTE_create takes ownership of `raw` on success.
    const std::unique_ptr<X509_ATTRIBUTE, void (*)(X509_ATTRIBUTE*)> attribute(
        X509_ATTRIBUTE_create(NID_id_smime_aa_encrypKeyPref, V_ASN1_OTHER, raw),
        X509_ATTRIBUTE_free);
    if (!attribute) ASN1_STRING_free(raw);
    if (!attribute || !CMS_signed_add1_attr(si, attribute.get())) {
        log::openssl_errors("adding SMIMEEncryptionKeyPreference");
        throw Error(Code::Internal, "cannot add SMIMEEncryptionKeyPreference");
    }
}

std::string capability_name(const ASN1_OBJECT* oid) {
    switch (OBJ_obj2nid(oid)) {
        case NID_aes_256_gcm: return "aes256-gcm";
        case NID_aes_128_gcm: return "aes128-gcm";
        case NID_aes_256_cbc: return "aes256-cbc";
        case NID_aes_192_cbc: return "aes192-cbc";
        case NID_aes_128_cbc: return "aes128-cbc";
        case NID_des_ede3_cbc: return "des-ede3-cbc";
        case NID_rc2_cbc: return "rc2-cbc";
        case NID_rsaesOaep: return "rsaes-oaep";
        case NID_rsassaPss: return "rsassa-pss";
        case NID_sha256: return "sha256";
        case NID_sha384: return "sha384";
        case NID_sha512: return "sha512";
        case NID_sha1: return "sha1";
        default: break;
    }
    char text[128];
    const int n = OBJ_obj2txt(text, sizeof text, oid, 1);
    return n > 0 && static_cast<std::size_t>(n) < sizeof text ? std::string(text) : std::string();
}

std::vector<std::string> read_capabilities(CMS_SignerInfo* si) {
    std::vector<std::string> names;
    const int index = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1);
    if (index < 0) return names;
    const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, index), 0);
    if (!value || value->type != V_ASN1_SEQUENCE) return names;
    const unsigned char* p = value->value.sequence->data;
    const AlgorsPtr algs(d2i_X509_ALGORS(nullptr, &p, value->value.sequence->length), free_algors);
    if (!algs) {
        ERR_clear_error();
        return names;
    }
    for (int i = 0; i < sk_X509_ALGOR_num(algs.get()); ++i) {
        const ASN1_OBJECT* oid = nullptr;
        X509_ALGOR_get0(&oid, nullptr, nullptr, sk_X509_ALGOR_value(algs.get(), i));
        std::string name = capability_name(oid);
        if (!name.empty()) names.push_back(std::move(name));
    }
    return names;
}

namespace {

// The one certificate of `certs` that `matches`; none when several do. The certificates of a
// SignedData are not signed: anyone may add a look-alike with the same issuer and serial or key
// identifier, and a first-match rule would let its order decide.
template <typename Match>
X509* only_match(STACK_OF(X509)* certs, const Match& matches) {
    X509* found = nullptr;
    for (int i = 0; i < sk_X509_num(certs); ++i) {
        X509* cert = sk_X509_value(certs, i);
        if (!matches(cert)) continue;
        if (found && X509_cmp(found, cert) != 0) return nullptr;
        found = cert;
    }
    return found;
}

}  // namespace

X509* find_encryption_key_preference(CMS_SignerInfo* si, STACK_OF(X509)* certs) {
    const ObjectPtr oid = preference_oid();
    const int index = oid ? CMS_signed_get_attr_by_OBJ(si, oid.get(), -1) : -1;
    if (index < 0 || !certs) return nullptr;
    const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, index), 0);
    // The CHOICE is context-tagged ([0], [1], [2]), which OpenSSL keeps as V_ASN1_OTHER with the
    // whole encoding; any other type keeps something else in the union (a BOOLEAN is no pointer).
    if (!value || value->type != V_ASN1_OTHER || !value->value.asn1_string) return nullptr;
    const ASN1_STRING* encoded = value->value.asn1_string;
    const std::string_view der(reinterpret_cast<const char*>(ASN1_STRING_get0_data(encoded)),
                               static_cast<std::size_t>(ASN1_STRING_length(encoded)));
    const auto choice = read_tlv(der);
    if (!choice) return nullptr;
    if (choice->tag == 0xa0) {  // issuerAndSerialNumber
        const auto* p = reinterpret_cast<const unsigned char*>(choice->content.data());
        const auto* end = p + choice->content.size();
        const std::unique_ptr<X509_NAME, void (*)(X509_NAME*)> issuer(
            d2i_X509_NAME(nullptr, &p, end - p), X509_NAME_free);
        const std::unique_ptr<ASN1_INTEGER, void (*)(ASN1_INTEGER*)> serial(
            issuer ? d2i_ASN1_INTEGER(nullptr, &p, end - p) : nullptr, ASN1_INTEGER_free);
        if (!serial) {
            ERR_clear_error();
            return nullptr;
        }
        return only_match(certs, [&](X509* cert) {
            return X509_NAME_cmp(X509_get_issuer_name(cert), issuer.get()) == 0 &&
                   ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), serial.get()) == 0;
        });
    }
    // receipentKeyId [1] (its first element is the key identifier) or subjectAltKeyIdentifier [2].
    std::optional<std::string_view> key_id;
    if (choice->tag == 0x82) key_id = choice->content;
    if (choice->tag == 0xa1) {
        if (const auto inner = read_tlv(choice->content); inner && inner->tag == 0x04)
            key_id = inner->content;
    }
    if (!key_id) return nullptr;
    return only_match(certs, [&](X509* cert) {
        const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
        return ski && static_cast<std::size_t>(ASN1_STRING_length(ski)) == key_id->size() &&
               std::memcmp(ASN1_STRING_get0_data(ski), key_id->data(), key_id->size()) == 0;
    });
}

}  // namespace smime::engine
