// SPDX-License-Identifier: MIT
// Path validation on top of X509_verify_cert, collecting every problem instead of the first.
#include "pki/chain.h"

#include "util/log.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

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

}  // namespace

TrustMaterial::TrustMaterial(const std::vector<ossl::X509Ptr>& anchors,
                             const std::vector<ossl::X509Ptr>& intermediates,
                             const std::vector<ossl::X509CrlPtr>& crls)
    : store_(X509_STORE_new()), untrusted_(sk_X509_new_null()), crls_(sk_X509_CRL_new_null()) {
    for (const auto& anchor : anchors) X509_STORE_add_cert(store_.get(), anchor.get());
    for (const auto& cert : intermediates) add_untrusted(cert.get());
    for (const auto& crl : crls) add_crl(crl.get());
}

void TrustMaterial::add_untrusted(X509* cert) {
    if (X509_up_ref(cert) && !sk_X509_push(untrusted_.get(), cert)) X509_free(cert);
}

void TrustMaterial::add_crl(X509_CRL* crl) {
    if (X509_CRL_up_ref(crl) && !sk_X509_CRL_push(crls_.get(), crl)) X509_CRL_free(crl);
}

PathResult validate_signer(X509* leaf, const TrustMaterial& material, std::time_t at) {
    PathResult result;
    const ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || !X509_STORE_CTX_init(ctx.get(), material.store(), leaf, material.untrusted())) {
        log::openssl_errors("path validation setup");
        result.untrusted = true;
        return result;
    }
    X509_STORE_CTX_set0_crls(ctx.get(), material.crls());
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SMIME_SIGN);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, at);
    if (sk_X509_CRL_num(material.crls()) > 0) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    X509_STORE_CTX_set_ex_data(ctx.get(), 0, &result);
    X509_STORE_CTX_set_verify_cb(ctx.get(), collect_problems);
    if (X509_verify_cert(ctx.get()) <= 0) {
        // The callback accepted everything it saw; a hard failure means no path was built at all.
        const int err = X509_STORE_CTX_get_error(ctx.get());
        if (err != X509_V_OK) collect_problems(0, ctx.get());
        else result.untrusted = true;
    }
    ERR_clear_error();
    return result;
}

bool validates_to_anchor(X509* cert, const TrustMaterial& material, std::time_t at) {
    PathResult result;
    const ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || !X509_STORE_CTX_init(ctx.get(), material.store(), cert, material.untrusted())) {
        ERR_clear_error();
        return false;
    }
    X509_STORE_CTX_set0_crls(ctx.get(), material.crls());
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, at);
    if (sk_X509_CRL_num(material.crls()) > 0) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    X509_STORE_CTX_set_ex_data(ctx.get(), 0, &result);
    X509_STORE_CTX_set_verify_cb(ctx.get(), collect_problems);
    const bool built = X509_verify_cert(ctx.get()) > 0;
    ERR_clear_error();
    return built && result.ok();
}

}  // namespace smime::pki
