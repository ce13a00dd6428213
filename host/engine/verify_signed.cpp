// SPDX-License-Identifier: MIT
// SignedData verification per signer (RFC 5652 section 5.6) with the project's verdicts.
#include "engine/verify_signed.h"

#include "engine/capabilities.h"
#include "engine/der.h"
#include "pki/cert_info.h"
#include "util/error.h"
#include "util/log.h"
#include "util/providers.h"
#include "util/text.h"

#include <openssl/cmserr.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>

namespace smime::engine {
namespace {

using X509s = ossl::X509StackPtr;
using CrlsPtr = ossl::X509CrlStackPtr;

constexpr int kMaxHarvestedSigners = 4;

bool weak_digest(int nid, const VerifyOptions& options) {
    switch (nid) {
        case NID_md2:
        case NID_md4:
        case NID_md5: return true;
        case NID_sha1: return !options.allow_sha1;
        default: return false;
    }
}

std::string digest_name(const X509_ALGOR* alg) {
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
    const int nid = OBJ_obj2nid(oid);
    if (nid == NID_undef) return capability_name(oid);
    return text::ascii_lower(OBJ_nid2sn(nid));
}

std::optional<std::time_t> signing_time_of(CMS_SignerInfo* si) {
    const int index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    if (index < 0) return std::nullopt;
    const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, index), 0);
    if (!value || (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME))
        return std::nullopt;
    return pki::to_time_t(value->value.utctime);
}

// Reads the whole content through the digest BIOs CMS_dataInit set up.
void drain(BIO* chain, std::string* content_out) {
    std::array<char, 1 << 16> buffer;
    while (true) {
        const int n = BIO_read(chain, buffer.data(), static_cast<int>(buffer.size()));
        if (n <= 0) break;
        if (content_out) content_out->append(buffer.data(), static_cast<std::size_t>(n));
    }
    wipe_bytes(buffer.data(), buffer.size());
}

// The issuers of `leaf` among the message's certificates, nearest first: all a later
// verification can need from them. Bounded in number and size, so a message carrying thousands
// of certificates hands over no more than one carrying its signer's path.
std::vector<ossl::X509Ptr> issuers_in(STACK_OF(X509)* certs, X509* leaf) {
    std::vector<ossl::X509Ptr> path;
    X509* current = leaf;
    while (certs && path.size() < Harvest::kMaxChain &&
           X509_check_issued(current, current) != X509_V_OK) {
        X509* issuer = nullptr;
        for (int i = 0; i < sk_X509_num(certs) && !issuer; ++i) {
            X509* candidate = sk_X509_value(certs, i);
            const auto same = [&](const ossl::X509Ptr& c) {
                return X509_cmp(c.get(), candidate) == 0;
            };
            const bool seen =
                X509_cmp(candidate, leaf) == 0 || std::any_of(path.begin(), path.end(), same);
            if (!seen && X509_check_issued(candidate, current) == X509_V_OK) issuer = candidate;
        }
        if (!issuer || i2d_X509(issuer, nullptr) > static_cast<int>(Harvest::kMaxCertificateBytes))
            break;
        path.push_back(ossl::up_ref(issuer));
        current = issuer;
    }
    ERR_clear_error();
    return path;
}

// Keeps what one signature teaches the key store (automatic key exchange) until the From check
// says which address, if any, it was checked against (hand_over_harvests).
void harvest(CMS_ContentInfo* cms, CMS_SignerInfo* si, X509* signer, SignatureStatus& status,
             VerifyContext& context) {
    Harvest learned;
    learned.certificate = ossl::up_ref(signer);
    const X509s certs(CMS_get1_certs(cms));
    learned.chain = issuers_in(certs.get(), signer);
    learned.capabilities = read_capabilities(si);
    if (X509* preferred = find_encryption_key_preference(si, certs.get())) {
        learned.preferred_encryption_certificate = ossl::up_ref(preferred);
    }
    learned.signing_time = status.signing_time;
    status.pending_harvest = context.pending_harvests().size();
    context.pending_harvests().push_back(std::move(learned));
}

// RFC 5652 section 11.1: with signed attributes, contentType must be there and name the
// encapsulated content's type; otherwise the signature could be replayed over another type.
bool content_type_matches(CMS_ContentInfo* cms, CMS_SignerInfo* si) {
    if (CMS_signed_get_attr_count(si) < 0) return true;
    if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) < 0) return false;
    const auto* declared = static_cast<const ASN1_OBJECT*>(
        CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT));
    const ASN1_OBJECT* actual = CMS_get0_eContentType(cms);
    return declared && actual && OBJ_cmp(declared, actual) == 0;
}

// The signed attributes as they were signed: DER of a SET OF in the order received (RFC 5652
// section 5.4; OpenSSL verifies the same way).
std::optional<std::string> signed_attributes_der(CMS_SignerInfo* si) {
    std::string content;
    const int count = CMS_signed_get_attr_count(si);
    for (int i = 0; i < count; ++i) {
        unsigned char* der = nullptr;
        const int n = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &der);
        if (n <= 0) return std::nullopt;
        content.append(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
        OPENSSL_free(der);
    }
    std::string out(1, '\x31');  // SET
    if (content.size() < 0x80) {
        out.push_back(static_cast<char>(content.size()));
    } else {
        std::string length;
        for (std::size_t n = content.size(); n > 0; n >>= 8)
            length.insert(length.begin(), static_cast<char>(n & 0xff));
        out.push_back(static_cast<char>(0x80 | length.size()));
        out += length;
    }
    return out + content;
}

// Ed25519 SignerInfos (RFC 8419), which OpenSSL 3.0's CMS cannot check: it insists on a digest
// for the key. With signed attributes the messageDigest (SHA-512, section 3.1) is compared with
// the content's digest and the signature covers the attributes; without them PureEdDSA signs the
// content itself.
bool verify_ed25519(CMS_SignerInfo* si, EVP_PKEY* key, BIO* chain, std::string_view content) {
    X509_ALGOR* digest_alg = nullptr;
    X509_ALGOR* signature_alg = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &signature_alg);
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, signature_alg);
    if (OBJ_obj2nid(oid) != NID_ED25519) return false;
    // RFC 8419 section 3.1: with Ed25519 the digest algorithm MUST be SHA-512.
    const ASN1_OBJECT* digest_oid = nullptr;
    X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
    if (OBJ_obj2nid(digest_oid) != NID_sha512) return false;
    const ASN1_OCTET_STRING* signature = CMS_SignerInfo_get0_signature(si);
    std::optional<std::string> signed_bytes;
    if (CMS_signed_get_attr_count(si) >= 0) {
        if (CMS_SignerInfo_verify_content(si, chain) <= 0) return false;
        signed_bytes = signed_attributes_der(si);
        if (!signed_bytes) return false;
        content = *signed_bytes;
    }
    const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    return ctx &&
           EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) ==
               1 &&
           EVP_DigestVerify(ctx.get(), ASN1_STRING_get0_data(signature),
                            static_cast<std::size_t>(ASN1_STRING_length(signature)),
                            reinterpret_cast<const unsigned char*>(content.data()),
                            content.size()) == 1;
}

}  // namespace

namespace {

// Signers whose certificate the message does not carry: look for it in the key store by the
// serial number of their issuerAndSerialNumber, and take one whose issuer matches too.
// Each signer's certificate as set so far, null where none is.
std::vector<X509*> signer_certs(STACK_OF(CMS_SignerInfo)* signers) {
    std::vector<X509*> certs;
    for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
        X509* cert = nullptr;
        CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(signers, i), nullptr, &cert, nullptr,
                                 nullptr);
        certs.push_back(cert);
    }
    return certs;
}

void find_missing_signer_certs(STACK_OF(CMS_SignerInfo)* signers, KeyProvider& keys) {
    for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
        CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
        X509* cert = nullptr;
        CMS_SignerInfo_get0_algs(si, nullptr, &cert, nullptr, nullptr);
        ASN1_OCTET_STRING* key_id = nullptr;
        X509_NAME* issuer = nullptr;
        ASN1_INTEGER* serial = nullptr;
        if (cert || CMS_SignerInfo_get0_signer_id(si, &key_id, &issuer, &serial) != 1 || !serial)
            continue;
        const std::string serial_hex = pki::serial_hex(serial);
        if (serial_hex.empty()) continue;
        // Several stored certificates may claim this issuer and serial (a harvested certificate
        // is anyone's to forge): take the one whose key made the signature, else the first, so a
        // planted look-alike cannot turn a genuine signature bad.
        X509* first = nullptr;
        bool found = false;
        const auto candidates = keys.certificates_with_serial(serial_hex);
        for (const auto& candidate : candidates) {
            if (CMS_SignerInfo_cert_cmp(si, candidate.get()) != 0) continue;
            if (!first) first = candidate.get();
            CMS_SignerInfo_set1_signer_cert(si, candidate.get());
            if (CMS_signed_get_attr_count(si) >= 0 && CMS_SignerInfo_verify(si) > 0) {
                found = true;
                break;
            }
        }
        if (!found) CMS_SignerInfo_set1_signer_cert(si, first);
    }
    ERR_clear_error();
}

}  // namespace

void check_from(SignatureStatus& signature, const mime::FromAddress& from) {
    using Problem = mime::FromAddress::Problem;
    FromCheck& check = signature.from_check;
    check = {};
    switch (from.problem) {
        case Problem::None: check.address = from.address; break;
        case Problem::NoFrom: check.problem = FromProblem::NoFrom; break;
        case Problem::MultipleFromFields: check.problem = FromProblem::MultipleFromFields; break;
        case Problem::MultipleMailboxes: check.problem = FromProblem::MultipleMailboxes; break;
        case Problem::Unparseable: check.problem = FromProblem::Unparseable; break;
    }
    if (!check.problem && signature.signer) {
        const auto& addresses = signature.signer->emails;
        if (std::find(addresses.begin(), addresses.end(), from.address) == addresses.end()) {
            check.problem = FromProblem::NotInCertificate;
        }
    }
    if (check.problem) signature.reasons.push_back(Verdict::AddressMismatch);
    settle(signature);
}

void hand_over_harvests(Status& status, VerifyContext& context) {
    std::vector<Harvest>& pending = context.pending_harvests();
    for (SignatureStatus& signature : status.signatures) {
        if (!signature.pending_harvest || *signature.pending_harvest >= pending.size()) continue;
        Harvest& learned = pending[*signature.pending_harvest];
        signature.pending_harvest.reset();
        // from_check has no problem only when its address is among the signer's addresses.
        if (signature.from_check.address) learned.sender_address = *signature.from_check.address;
        if (!signature.from_check.problem && signature.from_check.address) {
            learned.matched_addresses = {*signature.from_check.address};
        }
        learned.good = signature.verdict == Verdict::Good && !learned.matched_addresses.empty();
        try {
            context.keys().harvest(learned);
        } catch (const std::exception&) {
            log::warn("the key store could not keep a harvested certificate");
        }
    }
    pending.clear();
}

namespace {

// The legacy provider is a shared object that costs a fresh process more than verifying a small
// message: it is loaded only for a signer whose digest the default provider lacks (MD4, Whirlpool).
void load_legacy_digests_if_needed(STACK_OF(CMS_SignerInfo)* signers) {
    for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
        X509_ALGOR* digest = nullptr;
        CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(signers, i), nullptr, nullptr, &digest,
                                 nullptr);
        if (!digest) continue;
        const ASN1_OBJECT* oid = nullptr;
        X509_ALGOR_get0(&oid, nullptr, nullptr, digest);
        char name[80];
        if (OBJ_obj2txt(name, sizeof name, oid, 1) <= 0) continue;  // providers know digests by OID
        ERR_set_mark();
        EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
        ERR_pop_to_mark();
        if (md) {
            EVP_MD_free(md);
            continue;
        }
        ensure_legacy_provider();
        return;
    }
}

}  // namespace

pki::TrustMaterial& VerifyContext::material() {
    if (!material_) material_.emplace(keys_.trust_material());
    return *material_;
}

std::vector<SignatureStatus> verify_signed_data(CMS_ContentInfo* cms,
                                                std::optional<std::string_view> detached,
                                                std::string* content_out, VerifyContext& context) {
    STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms);
    if (!signers || sk_CMS_SignerInfo_num(signers) == 0)
        throw Error(Code::BadMessage, "SignedData without signers");
    load_legacy_digests_if_needed(signers);
    if (!detached && (!CMS_get0_content(cms) || !*CMS_get0_content(cms))) {
        throw Error(Code::BadMessage, "detached SignedData without its content");
    }
    // Attach the signers' certificates carried in the message. A signer the message leaves out
    // (RFC 5652 section 5.1 allows it) is looked for among the stored CA certificates, then among
    // all stored certificates by serial number.
    CMS_set1_signers_certs(cms, nullptr, 0);
    if (std::ranges::count(signer_certs(signers), nullptr) > 0) {
        X509s extra(sk_X509_new_null());
        for (const auto& cert : context.keys().intermediates()) {
            if (X509_up_ref(cert.get()) && !sk_X509_push(extra.get(), cert.get()))
                X509_free(cert.get());
        }
        CMS_set1_signers_certs(cms, extra.get(), 0);
    }
    ERR_clear_error();
    find_missing_signer_certs(signers, context.keys());

    const ossl::BioPtr content = detached ? ossl::memory_bio(*detached) : nullptr;
    BIO* chain = CMS_dataInit(cms, content.get());
    if (!chain) {
        log::openssl_errors("reading signed content");
        throw Error(Code::BadMessage, "the signed content cannot be read");
    }
    // The digest BIOs CMS_dataInit pushed in front of our content BIO go away on every exit.
    struct ChainGuard {
        BIO* chain;
        BIO* keep;
        ~ChainGuard() { free_chain_upto(chain, keep); }
    } const guard{chain, content.get()};
    // The content itself is needed only for an Ed25519 signer without signed attributes; a
    // detached one is at hand already, and is only read through the digests here.
    std::string encapsulated;
    drain(chain, detached ? nullptr : content_out ? content_out : &encapsulated);
    const std::string_view signed_content = detached      ? *detached
                                            : content_out ? std::string_view(*content_out)
                                                          : std::string_view(encapsulated);

    // Message certificates (in front, in their order) and CRLs join the store's for path building.
    pki::TrustMaterial& material = context.material();
    const X509s message_certs(CMS_get1_certs(cms));
    for (int i = message_certs ? sk_X509_num(message_certs.get()) - 1 : -1; i >= 0; --i) {
        material.add_untrusted_first(sk_X509_value(message_certs.get(), i));
    }
    const CrlsPtr message_crls(CMS_get1_crls(cms));
    for (int i = 0; message_crls && i < sk_X509_CRL_num(message_crls.get()); ++i) {
        material.add_crl(sk_X509_CRL_value(message_crls.get(), i));
    }
    // Then what the key store holds for the signers' paths (through the message's certificates
    // where they lead on).
    context.keys().add_paths_from(material, signer_certs(signers));
    const std::time_t now = context.options().validation_time.value_or(std::time(nullptr));

    std::vector<SignatureStatus> results;
    int harvested = 0;
    for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
        CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
        SignatureStatus status;
        EVP_PKEY* key = nullptr;
        X509* cert = nullptr;
        X509_ALGOR* digest_alg = nullptr;
        X509_ALGOR* signature_alg = nullptr;
        CMS_SignerInfo_get0_algs(si, &key, &cert, &digest_alg, &signature_alg);
        status.digest_algorithm = digest_name(digest_alg);
        status.signing_time = signing_time_of(si);
        if (!cert) {
            // Without the certificate the signature cannot be checked at all.
            status.reasons.push_back(Verdict::BadSignature);
            settle(status);
            results.push_back(std::move(status));
            continue;
        }
        status.signer = pki::describe(cert, now);

        // The signature over the signed attributes, then the content digest (or, without signed
        // attributes, the signature over the content digest).
        const bool ed25519 = key && EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
        bool crypto_ok = content_type_matches(cms, si);
        if (crypto_ok && ed25519) {
            crypto_ok = verify_ed25519(si, key, chain, signed_content);
        } else if (crypto_ok) {
            crypto_ok = CMS_signed_get_attr_count(si) < 0 || CMS_SignerInfo_verify(si) > 0;
        }
        if (crypto_ok && !ed25519) {
            const int r = CMS_SignerInfo_verify_content(si, chain);
            if (r <= 0) {
                const unsigned long err = ERR_peek_last_error();
                if (ERR_GET_LIB(err) == ERR_LIB_CMS &&
                    ERR_GET_REASON(err) == CMS_R_NO_MATCHING_DIGEST) {
                    ERR_clear_error();
                    throw Error(Code::BadMessage,
                                "SignedData does not list its signer's digest algorithm");
                }
                crypto_ok = false;
            }
        }
        if (!crypto_ok) log::openssl_errors("signature check");
        ERR_clear_error();
        if (!crypto_ok) status.reasons.push_back(Verdict::BadSignature);

        const ASN1_OBJECT* digest_oid = nullptr;
        X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
        pki::AlgorithmPolicy policy;
        policy.allow_sha1 = context.options().allow_sha1;
        policy.min_rsa_bits = context.options().min_rsa_bits;
        // The signer's own digest here; its key and every certificate of the path in the path
        // check.
        const pki::PathResult path = pki::validate_signer(cert, material, now, policy);
        if (weak_digest(OBJ_obj2nid(digest_oid), context.options()) || path.weak_algorithm) {
            status.reasons.push_back(Verdict::WeakAlgorithm);
        }

        if (path.untrusted) status.reasons.push_back(Verdict::Untrusted);
        if (path.expired) status.reasons.push_back(Verdict::Expired);
        if (path.not_yet_valid) status.reasons.push_back(Verdict::NotYetValid);
        if (path.revoked) status.reasons.push_back(Verdict::Revoked);
        if (path.bad_key_usage) status.reasons.push_back(Verdict::BadKeyUsage);
        if (status.signing_time) {
            status.valid_at_signing_time =
                path.known_ok_at(*status.signing_time) ||
                pki::validate_signer(cert, material, *status.signing_time, policy).ok();
        }
        settle(status);
        // A handful of signers per SignedData teach the key store; the rest are only reported.
        if (crypto_ok && harvested++ < kMaxHarvestedSigners)
            harvest(cms, si, cert, status, context);
        results.push_back(std::move(status));
    }
    return results;
}

}  // namespace smime::engine
