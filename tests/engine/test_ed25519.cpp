// SPDX-License-Identifier: MIT
// Ed25519 signatures (RFC 8410 keys, RFC 8419 in CMS), which RFC 8551 expects receivers to check.
// OpenSSL 3.0 cannot make them, so this file does, with the generated PKI's Ed25519 user (olga):
// the SignerInfo laid out by OpenSSL, its signature computed here as RFC 8419 prescribes (SHA-512
// messageDigest, PureEdDSA over the DER of the signed attributes, or over the content without
// them).
#include <doctest/doctest.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include <algorithm>

#include "mime/encoding.h"
#include "support.h"
#include "util/error.h"

using namespace test;

namespace {

const std::string kEntity =
    "Content-Type: text/plain; charset=utf-8\r\n\r\nSigned with Ed25519.\r\n";

std::string length_octets(std::size_t n) {
    if (n < 0x80) return std::string(1, static_cast<char>(n));
    std::string bytes;
    for (; n > 0; n >>= 8) bytes.insert(bytes.begin(), static_cast<char>(n & 0xff));
    return static_cast<char>(0x80 | bytes.size()) + bytes;
}

// DER SET OF: the element encodings in ascending order (X.690 section 11.6), as OpenSSL writes
// them.
std::string der_set_of(std::vector<std::string> elements) {
    std::sort(elements.begin(), elements.end());
    std::string content;
    for (const std::string& e : elements) content += e;
    return "\x31" + length_octets(content.size()) + content;
}

std::string ed25519_sign(EVP_PKEY* key, std::string_view data) {
    const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    REQUIRE(EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) ==
            1);
    std::size_t size = 0;
    REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &size,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
    std::string signature(size, '\0');
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
    signature.resize(size);
    return signature;
}

struct Ed25519Options {
    bool detached = false;
    bool attributes = true;
    EVP_PKEY* signing_key = nullptr;  // default: olga's own key
};

// SignedData by olga over `content`, DER.
std::string ed25519_signed_data(const std::string& content, const Ed25519Options& options) {
    const ossl::X509Ptr cert = load_cert(pki_file("olga.pem"));
    const ossl::X509Ptr intermediate = load_cert(pki_file("intermediate.pem"));
    const ossl::PKeyPtr key = load_key(pki_file("olga.key"));
    const unsigned int flags = CMS_PARTIAL | CMS_BINARY | (options.detached ? CMS_DETACHED : 0u);
    const ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    REQUIRE(cms);
    CMS_SignerInfo* si =
        CMS_add1_signer(cms.get(), cert.get(), key.get(), EVP_sha512(),
                        flags | CMS_NOSMIMECAP | (options.attributes ? 0u : CMS_NOATTR));
    REQUIRE(si);
    REQUIRE(CMS_add1_cert(cms.get(), intermediate.get()) == 1);
    X509_ALGOR* signature_alg = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &signature_alg);
    REQUIRE(X509_ALGOR_set0(signature_alg, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, nullptr) == 1);
    if (!options.detached) {
        ASN1_OCTET_STRING** encapsulated = CMS_get0_content(cms.get());
        REQUIRE(encapsulated);
        if (!*encapsulated) *encapsulated = ASN1_OCTET_STRING_new();
        REQUIRE(ASN1_OCTET_STRING_set(*encapsulated,
                                      reinterpret_cast<const unsigned char*>(content.data()),
                                      static_cast<int>(content.size())) == 1);
        (*encapsulated)->flags &= ~ASN1_STRING_FLAG_CONT;
    }
    std::string signed_bytes = content;
    if (options.attributes) {
        unsigned char digest[64];
        unsigned int digest_size = 0;
        REQUIRE(EVP_Digest(content.data(), content.size(), digest, &digest_size, EVP_sha512(),
                           nullptr) == 1);
        REQUIRE(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                            OBJ_nid2obj(NID_pkcs7_data), -1) > 0);
        REQUIRE(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
                                            digest, static_cast<int>(digest_size)) > 0);
        std::vector<std::string> attributes;
        for (int i = 0; i < CMS_signed_get_attr_count(si); ++i) {
            unsigned char* der = nullptr;
            const int n = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &der);
            REQUIRE(n > 0);
            attributes.emplace_back(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
            OPENSSL_free(der);
        }
        signed_bytes = der_set_of(attributes);
    }
    const std::string signature =
        ed25519_sign(options.signing_key ? options.signing_key : key.get(), signed_bytes);
    REQUIRE(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), signature.data(),
                            static_cast<int>(signature.size())) == 1);
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
    return ossl::bio_contents(out.get());
}

std::string opaque_message(const std::string& der) {
    std::string out =
        "From: olga@example.test\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n";
    smime::mime::append_base64_lines(der, out);
    return out;
}

std::string detached_message(const std::string& content, const std::string& der) {
    std::string out =
        "From: olga@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
        "protocol=\"application/pkcs7-signature\"; micalg=sha-512; "
        "boundary=\"sep\"\r\n\r\n--sep\r\n" +
        content +
        "\r\n--sep\r\nContent-Type: application/pkcs7-signature\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n";
    smime::mime::append_base64_lines(der, out);
    return out + "--sep--\r\n";
}

Status verified(const std::string& text) {
    TestKeys keys = TestKeys::with_test_root();
    return verify(text, keys).status;
}

}  // namespace

TEST_CASE("valid Ed25519 signatures are good") {
    SUBCASE("opaque, with signed attributes") {
        const Status status = verified(opaque_message(ed25519_signed_data(kEntity, {})));
        CHECK(verdict(status) == "good");
        REQUIRE(status.signatures.at(0).signer);
        CHECK(status.signatures[0].signer->emails == std::vector<std::string>{"olga@example.test"});
        CHECK(status.signatures[0].digest_algorithm == "sha512");
    }
    SUBCASE("multipart/signed, with signed attributes") {
        Ed25519Options detached;
        detached.detached = true;
        CHECK(verdict(verified(
                  detached_message(kEntity, ed25519_signed_data(kEntity, detached)))) == "good");
    }
    SUBCASE("opaque, without signed attributes (PureEdDSA over the content)") {
        Ed25519Options bare;
        bare.attributes = false;
        CHECK(verdict(verified(opaque_message(ed25519_signed_data(kEntity, bare)))) == "good");
    }
}

TEST_CASE("Ed25519 signatures that do not verify are bad_signature") {
    Ed25519Options detached;
    detached.detached = true;
    SUBCASE("content changed after signing") {
        std::string changed = kEntity;
        changed.replace(changed.find("Signed"), 6, "Forged");
        CHECK(verdict(verified(detached_message(
                  changed, ed25519_signed_data(kEntity, detached)))) == "bad_signature");
    }
    SUBCASE("signed by another key than the certificate's") {
        const ossl::PKeyPtr other(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
        REQUIRE(other);
        for (const bool attributes : {true, false}) {
            CAPTURE(attributes);
            Ed25519Options forged;
            forged.attributes = attributes;
            forged.signing_key = other.get();
            CHECK(verdict(verified(opaque_message(ed25519_signed_data(kEntity, forged)))) ==
                  "bad_signature");
        }
    }
}

TEST_CASE("an Ed25519 identity gets a clear refusal when asked to sign, never an internal error") {
    const Identity olga = load_identity("olga");
    try {
        (void)sign(message("olga"), olga);
        FAIL("signed with Ed25519");
    } catch (const smime::Error& e) {
        CHECK(e.code() == smime::Code::NoIdentity);
        CHECK(std::string(e.what()).find("Ed25519") != std::string::npos);
    }
}
