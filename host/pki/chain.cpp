// SPDX-License-Identifier: MIT
// Path validation on top of X509_verify_cert, collecting every problem instead of the first.
#include "pki/chain.h"

#include "pki/cert_info.h"
#include "util/log.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <limits>
#include <string>

namespace smime::pki {
namespace {

int collect_problems(int ok, X509_STORE_CTX* ctx) {
    if (ok) return 1;
    auto* result = static_cast<PathResult*>(X509_STORE_CTX_get_ex_data(ctx, 0));
    switch (X509_STORE_CTX_get_error(ctx)) {
        case X509_V_ERR_CERT_HAS_EXPIRED: result->expired = true; break;
        case X509_V_ERR_CERT_NOT_YET_VALID: result->not_yet_valid = true; break;
        case X509_V_ERR_CERT_REVOKED: result->revoked = true; break;
        case X509_V_ERR_INVALID_PURPOSE:
        case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE: result->bad_key_usage = true; break;
        // Revocation information we lack or cannot use does not make a path untrusted; the
        // host is offline and works with the CRLs it has been given.
        case X509_V_ERR_UNABLE_TO_GET_CRL:
        case X509_V_ERR_CRL_HAS_EXPIRED:
        case X509_V_ERR_CRL_NOT_YET_VALID:
        case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
        case X509_V_ERR_DIFFERENT_CRL_SCOPE: break;
        default: result->untrusted = true; break;
    }
    return 1;
}

bool weak_digest(int nid, const AlgorithmPolicy& policy) {
    switch (nid) {
        case NID_md2:
        case NID_md4:
        case NID_md5:
        case NID_md5_sha1: return true;
        case NID_sha1: return !policy.allow_sha1;
        default: return false;
    }
}

}  // namespace

bool weak_certificate(X509* cert, const AlgorithmPolicy& policy, bool judge_signature) {
    if (judge_signature) {
        int digest = NID_undef;
        // RSASSA-PSS names its digest in the parameters; X509_get_signature_info reads them.
        if (X509_get_signature_info(cert, &digest, nullptr, nullptr, nullptr) != 1) {
            int algorithm = NID_undef;
            if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest, &algorithm))
                digest = NID_undef;
        }
        ERR_clear_error();
        if (weak_digest(digest, policy)) return true;
    }
    EVP_PKEY* key = X509_get0_pubkey(cert);
    ERR_clear_error();
    if (!key) return false;
    const int bits = EVP_PKEY_get_bits(key);
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
        case EVP_PKEY_RSA_PSS:
        case EVP_PKEY_DSA: return bits < policy.min_rsa_bits;
        case EVP_PKEY_EC: return bits < policy.min_ec_bits;
        default: return false;  // Ed25519, Ed448: fixed, strong sizes
    }
}

TrustMaterial::TrustMaterial(const std::vector<ossl::X509Ptr>& anchors,
                             const std::vector<ossl::X509Ptr>& intermediates,
                             const std::vector<ossl::X509CrlPtr>& crls)
    : store_(X509_STORE_new()), untrusted_(sk_X509_new_null()), crls_(sk_X509_CRL_new_null()) {
    for (const auto& anchor : anchors) X509_STORE_add_cert(store_.get(), anchor.get());
    for (const auto& cert : intermediates) add_untrusted(cert.get());
    for (const auto& crl : crls) add_crl(crl.get());
}

void TrustMaterial::add_anchor(X509* cert) { X509_STORE_add_cert(store_.get(), cert); }

bool TrustMaterial::first_search(const X509_NAME* issuer) {
    unsigned char* der = nullptr;
    const int n = i2d_X509_NAME(issuer, &der);
    if (n <= 0) return true;
    const bool first = searched_.emplace(reinterpret_cast<const char*>(der), n).second;
    OPENSSL_free(der);
    return first;
}

void TrustMaterial::add_untrusted(X509* cert) {
    if (X509_up_ref(cert) && !sk_X509_push(untrusted_.get(), cert)) X509_free(cert);
}

void TrustMaterial::add_untrusted_first(X509* cert) {
    if (X509_up_ref(cert) && !sk_X509_unshift(untrusted_.get(), cert)) X509_free(cert);
}

void TrustMaterial::add_crl(X509_CRL* crl) {
    if (X509_CRL_up_ref(crl) && !sk_X509_CRL_push(crls_.get(), crl)) X509_CRL_free(crl);
}

namespace {

// A path-building context for `leaf` at time `at` with the material's anchors, certificates and
// CRLs, reporting every problem into `result` (collect_problems). Null when OpenSSL cannot set
// one up.
ossl::X509StoreCtxPtr path_context(X509* leaf, const TrustMaterial& material, std::time_t at,
                                   PathResult& result) {
    ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || !X509_STORE_CTX_init(ctx.get(), material.store(), leaf, material.untrusted()))
        return nullptr;
    X509_STORE_CTX_set0_crls(ctx.get(), material.crls());
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, at);
    if (sk_X509_CRL_num(material.crls()) > 0) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    X509_STORE_CTX_set_ex_data(ctx.get(), 0, &result);
    X509_STORE_CTX_set_verify_cb(ctx.get(), collect_problems);
    return ctx;
}

}  // namespace

PathResult validate_signer(X509* leaf, const TrustMaterial& material, std::time_t at,
                           const AlgorithmPolicy& policy) {
    PathResult result;
    const ossl::X509StoreCtxPtr ctx = path_context(leaf, material, at, result);
    if (!ctx) {
        log::openssl_errors("path validation setup");
        result.untrusted = true;
        return result;
    }
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SMIME_SIGN);
    if (X509_verify_cert(ctx.get()) <= 0) {
        // The callback accepted everything it saw; a hard failure means no path was built at all.
        const int err = X509_STORE_CTX_get_error(ctx.get());
        if (err != X509_V_OK) collect_problems(0, ctx.get());
        else result.untrusted = true;
    }
    STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
    const int length = path ? sk_X509_num(path) : 0;
    result.weak_algorithm = length == 0 && weak_certificate(leaf, policy, true);
    std::pair<std::time_t, std::time_t> span{std::numeric_limits<std::time_t>::min(),
                                             std::numeric_limits<std::time_t>::max()};
    bool span_known = length > 0 && result.ok() && sk_X509_CRL_num(material.crls()) == 0;
    for (int i = 0; i < length; ++i) {
        X509* cert = sk_X509_value(path, i);
        const bool self_signed_top =
            i == length - 1 && (X509_get_extension_flags(cert) & EXFLAG_SS) != 0;
        if (weak_certificate(cert, policy, !self_signed_top)) result.weak_algorithm = true;
        const auto not_before = to_time_t(X509_get0_notBefore(cert));
        const auto not_after = to_time_t(X509_get0_notAfter(cert));
        if (!not_before || !not_after) span_known = false;
        if (span_known) {
            span.first = std::max(span.first, *not_before);
            span.second = std::min(span.second, *not_after);
        }
    }
    if (span_known) result.valid_span = span;
    ERR_clear_error();
    return result;
}

bool validates_to_anchor(X509* cert, const TrustMaterial& material, std::time_t at) {
    PathResult result;
    const ossl::X509StoreCtxPtr ctx = path_context(cert, material, at, result);
    if (!ctx) {
        ERR_clear_error();
        return false;
    }
    const bool built = X509_verify_cert(ctx.get()) > 0;
    ERR_clear_error();
    return built && result.ok();
}

}  // namespace smime::pki
