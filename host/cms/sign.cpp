// SPDX-License-Identifier: MIT
// Signing: SignedData with the S/MIME signed attributes, wrapped as multipart/signed or opaque.
// The detached form is built in one buffer: the entity is written where it will stay in the
// output and signed there.
#include "cms/capabilities.h"
#include "cms/der.h"
#include "cms/engine.h"
#include "util/providers.h"
#include "cms/signer.h"
#include "mime/buffer.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/rsa.h>

namespace smime::engine {
namespace {

const EVP_MD* digest_of(DigestAlgorithm digest) {
    switch (digest) {
        case DigestAlgorithm::Sha256: return EVP_sha256();
        case DigestAlgorithm::Sha384: return EVP_sha384();
        case DigestAlgorithm::Sha512: return EVP_sha512();
    }
    return EVP_sha256();
}

// RFC 8551 section 3.5.3.1 micalg names.
const char* micalg_of(DigestAlgorithm digest) {
    switch (digest) {
        case DigestAlgorithm::Sha256: return "sha-256";
        case DigestAlgorithm::Sha384: return "sha-384";
        case DigestAlgorithm::Sha512: return "sha-512";
    }
    return "sha-256";
}

[[noreturn]] void signing_failed(const char* what) {
    log::openssl_errors(what);
    throw Error(Code::Internal, std::string("signing failed: ") + what);
}

// DER (BER for opaque: streamed, indefinite lengths) SignedData over what `content` yields.
std::string signed_data_der(BIO* content, std::size_t size_hint, const Identity& signer, const SignOptions& options,
                            bool detached) {
    if (!signer.certificate || !signer.private_key) throw Error(Code::NoIdentity, "the identity has no key");
    ensure_legacy_provider();
    // We canonicalised already; CMS_BINARY stops OpenSSL from translating line ends again.
    // Not CMS_STREAM: OpenSSL 3.0's streaming encoder fails ("illegal zero content") on the
    // SMIMEEncryptionKeyPreference attribute, so opaque content is collected, then written.
    const unsigned int flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0u);
    const ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    if (!cms) signing_failed("creating SignedData");

    const int key_type = EVP_PKEY_get_base_id(signer.private_key.get());
    const bool pss = key_type == EVP_PKEY_RSA_PSS ||
                     (key_type == EVP_PKEY_RSA && options.rsa_signature == RsaSignature::Pss);
    const unsigned int signer_flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP | (pss ? CMS_KEY_PARAM : 0u);
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), signer.certificate.get(), signer.private_key.get(),
                                         digest_of(options.digest), signer_flags);
    if (!si) signing_failed("adding the signer (does the key match the certificate?)");
    if (pss) {
        EVP_PKEY_CTX* pctx = CMS_SignerInfo_get0_pkey_ctx(si);
        if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0) {
            signing_failed("selecting RSASSA-PSS");
        }
    }
    add_capabilities(si, signer.private_key.get());
    add_encryption_key_preference(si, signer.certificate.get());
    if (options.signing_time) {
        const std::unique_ptr<ASN1_TIME, void (*)(ASN1_TIME*)> t(ASN1_TIME_set(nullptr, *options.signing_time),
                                                                 ASN1_TIME_free);
        // RFC 5652 section 11.3: UTCTime until 2049, GeneralizedTime after.
        if (!t || !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1)) {
            signing_failed("adding signingTime");
        }
    }
    for (const auto& cert : signer.chain) {
        if (cert && !CMS_add1_cert(cms.get(), cert.get())) signing_failed("adding the chain");
    }
    std::string der;
    mime::reserve_large(der, (detached ? 0 : size_hint) + 16384);
    const ossl::BioPtr sink = string_sink(der);
    if (!CMS_final(cms.get(), content, nullptr, flags) || !i2d_CMS_bio(sink.get(), cms.get())) {
        signing_failed("computing the signature");
    }
    return der;
}

constexpr std::string_view kSignaturePartHeader =
    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
    "Content-Description: S/MIME Cryptographic Signature\r\n\r\n";

}  // namespace

void append_signed_entity(const EntityWriter& write_entity, std::size_t size_hint, const Identity& signer,
                          const SignOptions& options, std::string& out) {
    if (options.opaque) {
        std::string entity;
        mime::reserve_large(entity, size_hint + size_hint / 32 + 256);
        write_entity(entity);
        const ossl::BioPtr in = ossl::memory_bio(entity);
        std::string der = signed_data_der(in.get(), entity.size(), signer, options, false);
        cleanse(entity);
        mime::reserve_large(out, out.size() + der.size() * 4 / 3 + der.size() / 28 + 256);
        out.append(
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n");
        mime::append_base64_lines(der, out);
        cleanse(der);
        return;
    }
    const std::size_t mark = out.size();
    mime::reserve_large(out, out.size() + size_hint + size_hint / 32 + 12288);
    while (true) {
        const std::string boundary = "----smime-" + random_hex(12);
        out.append("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=")
            .append(micalg_of(options.digest))
            .append("; boundary=\"")
            .append(boundary)
            .append("\"\r\n\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n--")
            .append(boundary)
            .append("\r\n");
        const std::size_t start = out.size();
        write_entity(out);
        const std::size_t end = out.size();
        const std::string_view entity = std::string_view(out).substr(start, end - start);
        if (entity.find(boundary) != std::string_view::npos) {  // 96 random bits: practically never
            out.resize(mark);
            continue;
        }
        const ossl::BioPtr in = ossl::memory_bio(entity);
        const std::string der = signed_data_der(in.get(), entity.size(), signer, options, true);
        out.append("\r\n--").append(boundary).append("\r\n").append(kSignaturePartHeader);
        mime::append_base64_lines(der, out);
        out.append("\r\n--").append(boundary).append("--\r\n");
        return;
    }
}

SecureString sign(std::string_view mime_text, const Identity& signer, const SignOptions& options) {
    const mime::Split split = mime::split(mime_text);
    SecureString out;
    std::string& text = out.mutable_str();
    mime::reserve_large(text, split.outer_headers.size() + split.body.size() + split.body.size() / 32 + 16384);
    text.append(split.outer_headers).append("MIME-Version: 1.0\r\n");
    append_signed_entity([&](std::string& target) { mime::append_entity(split, true, target); }, split.body.size(),
                         signer, options, text);
    return out;
}

}  // namespace smime::engine
