// SPDX-License-Identifier: MIT
// PKCS#12 import and export with OpenSSL; the legacy provider is loaded for old algorithms.
#include "keystore/pkcs12.h"

#include "keystore/certificate_info.h"
#include "util/error.h"
#include "util/log.h"
#include "util/providers.h"

namespace smime::pkcs12 {
namespace {
// PBKDF2-HMAC-SHA-256 iterations for backups (OWASP's 2023 figure); the MAC uses as many, since a
// cheaper MAC would let a guesser test passwords more cheaply than the encryption allows.
constexpr int kBackupIterations = 600000;
}  // namespace

engine::Identity read(std::string_view der, const SecureString& password) {
    ensure_legacy_provider();
    auto bio = ossl::memory_bio(der);
    ossl::Pkcs12Ptr p12(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!p12) {
        ERR_clear_error();
        throw Error(Code::BadPkcs12, "this is not a PKCS#12 file");
    }
    // An empty password may be encoded as no password or as an empty string: try both, as the
    // openssl command does.
    const char* pass = password.data();
    int pass_len = static_cast<int>(password.size());
    if (PKCS12_mac_present(p12.get())) {
        bool ok = PKCS12_verify_mac(p12.get(), pass, pass_len) == 1;
        if (!ok && password.empty()) {
            pass = nullptr;
            pass_len = 0;
            ok = PKCS12_verify_mac(p12.get(), nullptr, 0) == 1;
        }
        if (!ok) {
            ERR_clear_error();
            throw Error(Code::BadPassword, "the PKCS#12 password is wrong");
        }
    }
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    use_secure_heap();
    if (PKCS12_parse(p12.get(), pass, &key, &cert, &ca) != 1) {
        log::openssl_errors("PKCS#12");
        if (!PKCS12_mac_present(p12.get()))
            throw Error(Code::BadPassword,
                        "the PKCS#12 file cannot be opened: wrong password or damaged file");
        throw Error(Code::BadPkcs12,
                    "the PKCS#12 file cannot be read (damaged, or an unsupported algorithm)");
    }
    engine::Identity identity;
    identity.private_key.reset(key);
    identity.certificate.reset(cert);
    ossl::X509StackPtr others(ca);
    if (!identity.private_key)
        throw Error(Code::BadPkcs12, "the PKCS#12 file holds no private key");
    if (!identity.certificate && others) {
        // No localKeyId link: find the certificate that belongs to the key.
        for (int i = 0; i < sk_X509_num(others.get()); ++i) {
            X509* candidate = sk_X509_value(others.get(), i);
            if (X509_check_private_key(candidate, identity.private_key.get()) == 1) {
                identity.certificate = ossl::up_ref(candidate);
                break;
            }
        }
        ERR_clear_error();
    }
    if (!identity.certificate)
        throw Error(Code::BadPkcs12,
                    "the PKCS#12 file holds no certificate that matches its private key");
    if (X509_check_private_key(identity.certificate.get(), identity.private_key.get()) != 1) {
        ERR_clear_error();
        throw Error(Code::BadPkcs12, "the private key does not match the certificate");
    }
    // OpenSSL 3.0 cannot sign CMS with EdDSA keys (RFC 8419), and they cannot decrypt: such an
    // identity would be useless here, so it is refused now rather than failing at the first send.
    const int key_type = EVP_PKEY_get_base_id(identity.private_key.get());
    if (key_type == EVP_PKEY_ED25519 || key_type == EVP_PKEY_ED448) {
        throw Error(Code::BadPkcs12,
                    "Ed25519 and Ed448 identities cannot sign S/MIME messages with this host; use "
                    "an RSA or "
                    "EC (P-256 or larger) certificate",
                    {{"key_type", key_type == EVP_PKEY_ED25519 ? "ed25519" : "ed448"}});
    }
    if (others) {
        for (int i = 0; i < sk_X509_num(others.get()); ++i) {
            X509* c = sk_X509_value(others.get(), i);
            if (X509_cmp(c, identity.certificate.get()) == 0) continue;
            identity.chain.push_back(ossl::up_ref(c));
        }
    }
    identity.fingerprint = certinfo::fingerprint(identity.certificate.get());
    return identity;
}

std::string write(const engine::Identity& identity, const SecureString& password,
                  const std::string& friendly_name) {
    ossl::X509StackPtr chain(sk_X509_new_null());
    for (const auto& c : identity.chain) {
        X509_up_ref(c.get());
        sk_X509_push(chain.get(), c.get());
    }
    ossl::Pkcs12Ptr p12(PKCS12_create_ex(password.data(), friendly_name.c_str(),
                                         identity.private_key.get(), identity.certificate.get(),
                                         chain.get(), NID_aes_256_cbc, NID_aes_256_cbc,
                                         kBackupIterations, -1, 0, nullptr, nullptr));
    // MAC added separately: PKCS12_create's default MAC digest is SHA-1; use HMAC-SHA-256.
    if (p12 && PKCS12_set_mac(p12.get(), password.data(), static_cast<int>(password.size()),
                              nullptr, 0, kBackupIterations, EVP_sha256()) != 1)
        p12.reset();
    if (!p12) {
        log::openssl_errors("PKCS#12 export");
        throw Error(Code::Internal, "cannot create the PKCS#12 backup");
    }
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    i2d_PKCS12_bio(out.get(), p12.get());
    return ossl::bio_contents(out.get());
}

}  // namespace smime::pkcs12
