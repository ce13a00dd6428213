// SPDX-License-Identifier: MIT
// Signing: SignedData with the S/MIME signed attributes, wrapped as multipart/signed or opaque.
// The detached form is built in one buffer: the entity is written where it will stay in the
// output and signed there.
#include "engine/capabilities.h"
#include "engine/der.h"
#include "engine/engine.h"
#include "engine/signer.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "mime/header_protection.h"
#include "util/error.h"
#include "util/large_buffer.h"
#include "util/log.h"
#include "util/providers.h"

#include <openssl/rsa.h>

#include <algorithm>
#include <functional>

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

bool uses_pss(const Identity& signer, const SignOptions& options) {
    if (!signer.private_key) return false;
    const int key_type = EVP_PKEY_get_base_id(signer.private_key.get());
    return key_type == EVP_PKEY_RSA_PSS ||
           (key_type == EVP_PKEY_RSA && options.rsa_signature == RsaSignature::Pss);
}

// The SignerInfo for `signer` with the S/MIME signed attributes, its chain in the SignedData.
// The message digest (and contentType) come later: from CMS_final or detached_signed_data_der().
CMS_SignerInfo* add_signer(CMS_ContentInfo* cms, const Identity& signer,
                           const SignOptions& options) {
    const bool pss = uses_pss(signer, options);
    const unsigned int signer_flags =
        CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP | (pss ? CMS_KEY_PARAM : 0u);
    CMS_SignerInfo* si = CMS_add1_signer(cms, signer.certificate.get(), signer.private_key.get(),
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
        const std::unique_ptr<ASN1_TIME, void (*)(ASN1_TIME*)> t(
            ASN1_TIME_set(nullptr, *options.signing_time), ASN1_TIME_free);
        // RFC 5652 section 11.3: UTCTime until 2049, GeneralizedTime after.
        if (!t || !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1)) {
            signing_failed("adding signingTime");
        }
    }
    for (const auto& cert : signer.chain) {
        if (cert && !CMS_add1_cert(cms, cert.get())) signing_failed("adding the chain");
    }
    return si;
}

ossl::CmsPtr new_signed_data(const Identity& signer, unsigned int flags) {
    if (!signer.certificate || !signer.private_key)
        throw Error(Code::NoIdentity, "the identity has no key");
    // OpenSSL 3.0's CMS has no EdDSA signing (RFC 8419); such identities are refused at import,
    // and one stored earlier gets the same clear answer instead of an internal error.
    const int key_type = EVP_PKEY_get_base_id(signer.private_key.get());
    if (key_type == EVP_PKEY_ED25519 || key_type == EVP_PKEY_ED448) {
        throw Error(Code::NoIdentity,
                    "Ed25519 and Ed448 identities cannot sign S/MIME messages with this host");
    }
    // SHA-2 with RSA or ECDSA: the default provider has them all. Loading the legacy provider
    // (a shared object) would cost more than the signature.
    ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
    if (!cms) signing_failed("creating SignedData");
    return cms;
}

std::string to_der(CMS_ContentInfo* cms, std::size_t size_hint) {
    std::string der;
    reserve_large(der, size_hint + 16384);
    const ossl::BioPtr sink = string_sink(der);
    if (!i2d_CMS_bio(sink.get(), cms)) signing_failed("encoding SignedData");
    return der;
}

// SignedData over what `content` yields, digested by OpenSSL: opaque (BER, indefinite lengths)
// or detached.
std::string signed_data_der(BIO* content, std::size_t size_hint, const Identity& signer,
                            const SignOptions& options, bool detached) {
    // We canonicalised already; CMS_BINARY stops OpenSSL from translating line ends again.
    // Not CMS_STREAM: OpenSSL 3.0's streaming encoder fails ("illegal zero content") on the
    // SMIMEEncryptionKeyPreference attribute, so opaque content is collected, then written.
    const unsigned int flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0u);
    const ossl::CmsPtr cms = new_signed_data(signer, flags);
    add_signer(cms.get(), signer, options);
    if (!CMS_final(cms.get(), content, nullptr, flags)) signing_failed("computing the signature");
    return to_der(cms.get(), detached ? 0 : size_hint);
}

// Detached SignedData over content whose digest is already known: the signed attributes get
// contentType and messageDigest as CMS_final would add them, then the signer signs them.
// Not for RSASSA-PSS: OpenSSL 3.0 sets the PSS parameters only inside CMS_final.
std::string detached_signed_data_der(const EntityDigest::Value& digest, const Identity& signer,
                                     const SignOptions& options) {
    const ossl::CmsPtr cms = new_signed_data(signer, CMS_BINARY | CMS_PARTIAL | CMS_DETACHED);
    CMS_SignerInfo* si = add_signer(cms.get(), signer, options);
    if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_pkcs7_data), -1) <= 0 ||
        CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest.data(),
                                    static_cast<int>(digest.size())) <= 0) {
        signing_failed("adding the message digest");
    }
    if (CMS_SignerInfo_sign(si) <= 0) signing_failed("computing the signature");
    return to_der(cms.get(), 0);
}

EntityDigest::Value digest_parts(DigestAlgorithm algorithm,
                                 std::initializer_list<std::string_view> parts) {
    const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EntityDigest::Value value(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx.get(), digest_of(algorithm), nullptr))
        signing_failed("digesting the content");
    for (const std::string_view part : parts)
        if (!EVP_DigestUpdate(ctx.get(), part.data(), part.size()))
            signing_failed("digesting the content");
    if (!EVP_DigestFinal_ex(ctx.get(), value.data(), &size))
        signing_failed("digesting the content");
    value.resize(size);
    return value;
}

bool contains(std::string_view text, std::string_view needle) {
    // The library's search (a vectorised scan for the first byte, then a compare) runs several
    // times faster over MiB of base64 than a Boyer-Moore-Horspool table does.
    return text.find(needle) != std::string_view::npos;
}

std::string boundary_not_in(std::string_view a, std::string_view b) {
    for (;;) {  // 96 random bits: practically never more than once
        std::string boundary = "----smime-" + random_hex(12);
        if (!contains(a, boundary) && !contains(b, boundary)) return boundary;
    }
}

void append_multipart_head(std::string_view boundary, DigestAlgorithm digest, std::string& out) {
    out.append("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=")
        .append(micalg_of(digest))
        .append("; boundary=\"")
        .append(boundary)
        .append("\"\r\n\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n--")
        .append(boundary)
        .append("\r\n");
}

constexpr std::string_view kSignaturePartHeader =
    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
    "Content-Description: S/MIME Cryptographic Signature\r\n\r\n";

// The end of the signed entity, the signature part, and the close delimiter.
void append_signature_part(std::string_view boundary, const std::string& der, std::string& out) {
    out.append("\r\n--").append(boundary).append("\r\n").append(kSignaturePartHeader);
    mime::append_base64_lines(der, out);
    out.append("\r\n--").append(boundary).append("--\r\n");
}

}  // namespace

void append_signed_entity(const EntityWriter& write_entity, std::size_t size_hint,
                          const Identity& signer, const SignOptions& options, std::string& out) {
    if (options.opaque) {
        // Both hold the content, and are wiped on every way out.
        SecureString entity;
        reserve_large(entity.mutable_str(), size_hint + size_hint / 32 + 256);
        write_entity(entity.mutable_str());
        const ossl::BioPtr in = ossl::memory_bio(entity.str());
        const SecureString der(signed_data_der(in.get(), entity.size(), signer, options, false));
        entity.wipe_and_free();
        reserve_large(out, out.size() + der.size() * 4 / 3 + der.size() / 28 + 256);
        out.append(
            "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n");
        mime::append_base64_lines(der.str(), out);
        return;
    }
    const std::size_t mark = out.size();
    reserve_large(out, out.size() + size_hint + size_hint / 32 + 12288);
    while (true) {
        const std::string boundary = "----smime-" + random_hex(12);
        append_multipart_head(boundary, options.digest, out);
        const std::size_t start = out.size();
        write_entity(out);
        const std::string_view entity = std::string_view(out).substr(start);
        if (contains(entity, boundary)) {
            out.resize(mark);
            continue;
        }
        if (uses_pss(signer, options)) {
            const ossl::BioPtr in = ossl::memory_bio(entity);
            append_signature_part(
                boundary, signed_data_der(in.get(), entity.size(), signer, options, true), out);
        } else {
            append_signature_part(
                boundary,
                detached_signed_data_der(digest_parts(options.digest, {entity}), signer, options),
                out);
        }
        return;
    }
}

std::optional<EntityDigest::Value> EntityDigest::matching(std::string_view message,
                                                          std::string_view content_fields,
                                                          std::string_view body,
                                                          DigestAlgorithm wanted) const {
    if (!complete || wanted != algorithm || end != message.size() ||
        body_offset != static_cast<std::size_t>(body.data() - message.data()) ||
        prefix.size() != content_fields.size() + 2 ||
        prefix.compare(0, content_fields.size(), content_fields) != 0 ||
        prefix.compare(content_fields.size(), 2, "\r\n") != 0) {
        return std::nullopt;
    }
    return value;
}

struct EntityDigester::State {
    enum class Phase { Header, Body, GaveUp };
    DigestAlgorithm algorithm = DigestAlgorithm::Sha256;
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    Phase phase = Phase::Header;
    std::string prefix;
    std::size_t body_offset = 0;
    std::size_t digested = 0;        // of the message received
    std::size_t header_scanned = 0;  // where the search for the header's end goes on
    mime::TextScanner body_scan;
};

namespace {

constexpr std::size_t kMaxDigestedHeader = std::size_t{1} << 20;

// Just past the empty line that ends the header (lines end at LF, as mime::parse reads them);
// npos while that line has not arrived. `pos` is the start of the first line not yet looked at,
// and is left at the first incomplete line, so a header arriving in small pieces is read once.
std::size_t header_end(std::string_view text, std::size_t& pos) {
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) break;
        const std::string_view line = text.substr(pos, nl + 1 - pos);
        if (line == "\n" || line == "\r\n") return nl + 1;
        pos = nl + 1;
    }
    return std::string_view::npos;
}

}  // namespace

EntityDigester::EntityDigester(DigestAlgorithm algorithm) : state_(std::make_unique<State>()) {
    state_->algorithm = algorithm;
    if (!state_->ctx || !EVP_DigestInit_ex(state_->ctx.get(), digest_of(algorithm), nullptr))
        state_->phase = State::Phase::GaveUp;
}

EntityDigester::~EntityDigester() = default;

void EntityDigester::update(std::string_view received) {
    State& s = *state_;
    if (s.phase == State::Phase::GaveUp) return;
    if (s.phase == State::Phase::Header) {
        const std::size_t end =
            header_end(received.substr(0, kMaxDigestedHeader), s.header_scanned);
        if (end == std::string_view::npos) {
            if (received.size() >= kMaxDigestedHeader) s.phase = State::Phase::GaveUp;
            return;
        }
        try {
            s.prefix = mime::split(received.substr(0, end)).content_fields + "\r\n";
        } catch (const Error&) {
            s.phase = State::Phase::GaveUp;  // sign_pieces() will say what is wrong
            return;
        }
        if (!EVP_DigestUpdate(s.ctx.get(), s.prefix.data(), s.prefix.size())) {
            s.phase = State::Phase::GaveUp;
            return;
        }
        s.body_offset = s.digested = end;
        s.phase = State::Phase::Body;
    }
    if (received.size() > s.digested) {
        const std::string_view piece = received.substr(s.digested);
        if (!EVP_DigestUpdate(s.ctx.get(), piece.data(), piece.size()))
            s.phase = State::Phase::GaveUp;
        s.body_scan.feed(piece);
        s.digested = received.size();
    }
}

EntityDigest EntityDigester::finish() {
    State& s = *state_;
    EntityDigest d;
    d.algorithm = s.algorithm;
    if (s.phase != State::Phase::Body) return d;
    d.value.resize(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (!EVP_DigestFinal_ex(s.ctx.get(), d.value.data(), &size)) return EntityDigest{};
    d.value.resize(size);
    d.complete = true;
    d.prefix = std::move(s.prefix);
    d.body_offset = s.body_offset;
    d.end = s.digested;
    const mime::TextScan scan = s.body_scan.finish();
    d.body_ready = scan.transport_safe && scan.crlf;
    s.phase = State::Phase::GaveUp;
    return d;
}

namespace {

// The message cut at its header; with protect_headers, the entity carries a copy of the header.
mime::Split split_for_signing(std::string_view mime_text, const SignOptions& options) {
    mime::Split split = mime::split(mime_text);
    if (options.protect_headers) mime::protect_headers(split, mime::Protection::Clear);
    return split;
}

}  // namespace

Pieces sign_pieces(std::string_view mime_text, const Identity& signer, const SignOptions& options,
                   const EntityDigest* precomputed) {
    const mime::Split split = split_for_signing(mime_text, options);
    std::optional<EntityDigest::Value> digest;
    if (precomputed)
        digest = precomputed->matching(mime_text, split.content_fields, split.body, options.digest);
    // The body, checked as it arrived or now, must need no change.
    if (options.opaque || uses_pss(signer, options) ||
        (digest ? !precomputed->body_ready : !mime::body_ready(split, true)))
        return sign(mime_text, signer, options);
    if (!digest) digest = digest_parts(options.digest, {split.content_fields, "\r\n", split.body});
    // The body can be signed as it is: the reply repeats it by reference.
    const std::string boundary = boundary_not_in(split.content_fields, split.body);
    SecureString head;
    head.mutable_str().append(split.outer_headers).append("MIME-Version: 1.0\r\n");
    append_multipart_head(boundary, options.digest, head.mutable_str());
    head.mutable_str().append(split.content_fields).append("\r\n");
    SecureString tail;
    append_signature_part(boundary, detached_signed_data_der(*digest, signer, options),
                          tail.mutable_str());
    Pieces pieces;
    pieces.append(std::move(head));
    pieces.append_view(split.body);
    pieces.append(std::move(tail));
    return pieces;
}

SecureString sign(std::string_view mime_text, const Identity& signer, const SignOptions& options) {
    const mime::Split split = split_for_signing(mime_text, options);
    SecureString out;
    std::string& text = out.mutable_str();
    reserve_large(text,
                  split.outer_headers.size() + split.body.size() + split.body.size() / 32 + 16384);
    text.append(split.outer_headers).append("MIME-Version: 1.0\r\n");
    append_signed_entity([&](std::string& target) { mime::append_entity(split, true, target); },
                         split.body.size(), signer, options, text);
    return out;
}

}  // namespace smime::engine
