// SPDX-License-Identifier: MIT
// SignedData verification per signer (RFC 5652 section 5.6) with the project's verdicts.
#include "cms/verify_signed.h"

#include "cms/capabilities.h"
#include "cms/der.h"
#include "util/providers.h"
#include "pki/cert_info.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/cmserr.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>

namespace smime::engine {
namespace {

using X509s = ossl::X509StackPtr;
using CrlsPtr = ossl::X509CrlStackPtr;

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
    std::string name = OBJ_nid2sn(nid);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return name;
}

std::optional<std::time_t> signing_time_of(CMS_SignerInfo* si) {
    const int index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    if (index < 0) return std::nullopt;
    const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, index), 0);
    if (!value || (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME)) return std::nullopt;
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
    OPENSSL_cleanse(buffer.data(), buffer.size());
}

void harvest(CMS_ContentInfo* cms, CMS_SignerInfo* si, X509* signer, const std::optional<std::time_t>& signing_time,
             VerifyContext& context) {
    Harvest learned;
    learned.certificate = ossl::up_ref(signer);
    const X509s certs(CMS_get1_certs(cms));
    for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
        X509* cert = sk_X509_value(certs.get(), i);
        if (X509_cmp(cert, signer) != 0) learned.chain.push_back(ossl::up_ref(cert));
    }
    learned.capabilities = read_capabilities(si);
    if (X509* preferred = find_encryption_key_preference(si, certs.get())) {
        learned.preferred_encryption_certificate = ossl::up_ref(preferred);
    }
    learned.sender_address = context.from_address();
    learned.signing_time = signing_time;
    try {
        context.keys().harvest(learned);
    } catch (const std::exception&) {
        log::warn("the key store could not keep a harvested certificate");
    }
}

}  // namespace

namespace {

// Signers whose certificate the message does not carry: look for it in the key store by the
// serial number of their issuerAndSerialNumber, and take one whose issuer matches too.
void find_missing_signer_certs(STACK_OF(CMS_SignerInfo)* signers, KeyProvider& keys) {
    for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
        CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
        X509* cert = nullptr;
        CMS_SignerInfo_get0_algs(si, nullptr, &cert, nullptr, nullptr);
        ASN1_OCTET_STRING* key_id = nullptr;
        X509_NAME* issuer = nullptr;
        ASN1_INTEGER* serial = nullptr;
        if (cert || CMS_SignerInfo_get0_signer_id(si, &key_id, &issuer, &serial) != 1 || !serial) continue;
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

pki::TrustMaterial& VerifyContext::material() {
    if (!material_) material_.emplace(keys_.trust_material());
    return *material_;
}

std::vector<SignatureStatus> verify_signed_data(CMS_ContentInfo* cms, std::optional<std::string_view> detached,
                                                std::string* content_out, VerifyContext& context) {
    ensure_legacy_provider();
    STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms);
    if (!signers || sk_CMS_SignerInfo_num(signers) == 0) throw Error(Code::BadMessage, "SignedData without signers");
    if (!detached && (!CMS_get0_content(cms) || !*CMS_get0_content(cms))) {
        throw Error(Code::BadMessage, "detached SignedData without its content");
    }
    // Attach the signers' certificates carried in the message (or known to the key store).
    X509s extra(sk_X509_new_null());
    for (const auto& cert : context.keys().intermediates()) {
        if (X509_up_ref(cert.get()) && !sk_X509_push(extra.get(), cert.get())) X509_free(cert.get());
    }
    CMS_set1_signers_certs(cms, extra.get(), 0);
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
    drain(chain, content_out);

    // Message certificates and CRLs join the store's for path building.
    pki::TrustMaterial& material = context.material();
    const X509s message_certs(CMS_get1_certs(cms));
    for (int i = 0; message_certs && i < sk_X509_num(message_certs.get()); ++i) {
        material.add_untrusted(sk_X509_value(message_certs.get(), i));
    }
    const CrlsPtr message_crls(CMS_get1_crls(cms));
    for (int i = 0; message_crls && i < sk_X509_CRL_num(message_crls.get()); ++i) {
        material.add_crl(sk_X509_CRL_value(message_crls.get(), i));
    }
    const std::time_t now = context.options().validation_time.value_or(std::time(nullptr));

    std::vector<SignatureStatus> results;
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
        status.signer = pki::describe(cert);

        // The signature over the signed attributes, then the content digest (or, without signed
        // attributes, the signature over the content digest).
        bool crypto_ok = CMS_signed_get_attr_count(si) < 0 || CMS_SignerInfo_verify(si) > 0;
        if (crypto_ok) {
            const int r = CMS_SignerInfo_verify_content(si, chain);
            if (r <= 0) {
                const unsigned long err = ERR_peek_last_error();
                if (ERR_GET_LIB(err) == ERR_LIB_CMS && ERR_GET_REASON(err) == CMS_R_NO_MATCHING_DIGEST) {
                    ERR_clear_error();
                    throw Error(Code::BadMessage, "SignedData does not list its signer's digest algorithm");
                }
                crypto_ok = false;
            }
        }
        if (!crypto_ok) log::openssl_errors("signature check");
        ERR_clear_error();
        if (!crypto_ok) status.reasons.push_back(Verdict::BadSignature);

        const ASN1_OBJECT* digest_oid = nullptr;
        X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
        bool weak = weak_digest(OBJ_obj2nid(digest_oid), context.options());
        if (key) {
            const int type = EVP_PKEY_get_base_id(key);
            const bool sized = type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS || type == EVP_PKEY_DSA;
            if (sized && EVP_PKEY_get_bits(key) < context.options().min_rsa_bits) weak = true;
        }
        if (weak) status.reasons.push_back(Verdict::WeakAlgorithm);

        const pki::PathResult path = pki::validate_signer(cert, material, now);
        if (path.untrusted) status.reasons.push_back(Verdict::Untrusted);
        if (path.expired) status.reasons.push_back(Verdict::Expired);
        if (path.not_yet_valid) status.reasons.push_back(Verdict::NotYetValid);
        if (path.revoked) status.reasons.push_back(Verdict::Revoked);
        if (path.bad_key_usage) status.reasons.push_back(Verdict::BadKeyUsage);
        if (status.signing_time) {
            status.valid_at_signing_time = pki::validate_signer(cert, material, *status.signing_time).ok();
        }
        const std::string& from = context.from_address();
        if (!from.empty()) {
            const auto& addresses = status.signer->emails;
            if (std::find(addresses.begin(), addresses.end(), from) == addresses.end()) {
                status.reasons.push_back(Verdict::AddressMismatch);
            }
        }
        settle(status);
        if (crypto_ok) harvest(cms, si, cert, status.signing_time, context);
        results.push_back(std::move(status));
    }
    return results;
}

}  // namespace smime::engine
