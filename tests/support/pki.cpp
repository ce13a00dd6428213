// SPDX-License-Identifier: MIT
// OpenSSL-backed generation of test keys, certificates and PKCS#12 files.
#include "support/pki.h"

#include "util/providers.h"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace smime::test {
namespace {
void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}
void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// Generating an RSA-2048 key takes 50-500 ms and the key store suites need dozens, so 2048-bit keys
// come from a pool made once with `openssl genpkey` (SMIME_TEST_RSA_POOL). Each call hands out the
// next key of the pool: keys asked for one after the other differ, and no test case uses anywhere
// near as many as the pool holds.
const std::vector<ossl::PKeyPtr>& rsa_2048_pool() {
    static const std::vector<ossl::PKeyPtr> pool = [] {
        std::vector<ossl::PKeyPtr> keys;
        ossl::BioPtr bio(BIO_new_file(SMIME_TEST_RSA_POOL, "r"));
        check(bio != nullptr, "cannot open the RSA key pool " SMIME_TEST_RSA_POOL);
        while (EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr))
            keys.emplace_back(key);
        ERR_clear_error();  // the end of the file reads as a PEM error
        check(keys.size() >= 32, "the RSA key pool holds fewer than 32 keys");
        return keys;
    }();
    return pool;
}
}  // namespace

ossl::PKeyPtr make_rsa_key(int bits) {
    if (bits == 2048) {
        static std::atomic<std::size_t> next{0};
        const auto& pool = rsa_2048_pool();
        EVP_PKEY* key = pool[next++ % pool.size()].get();
        check(EVP_PKEY_up_ref(key) == 1, "RSA key reference");
        return ossl::PKeyPtr(key);
    }
    ossl::PKeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
    check(key != nullptr, "RSA key");
    return key;
}

ossl::PKeyPtr make_ec_key(const char* curve) {
    ossl::PKeyPtr key(EVP_EC_gen(curve));
    check(key != nullptr, "EC key");
    return key;
}

ossl::X509Ptr make_cert(EVP_PKEY* key, const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
    ossl::X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    long serial = spec.serial;
    if (serial == 0) {
        RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
        serial = (serial & 0x7fffffffffffL) | 1;
    }
    ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_days * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                    (spec.valid_from_days + spec.valid_days) * 86400L);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    if (spec.ca) {
        add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), issuer, NID_basic_constraints, "CA:FALSE");
        if (!spec.key_usage.empty())
            add_ext(cert.get(), issuer, NID_key_usage, "critical," + spec.key_usage);
        if (!spec.ext_key_usage.empty())
            add_ext(cert.get(), issuer, NID_ext_key_usage, spec.ext_key_usage);
    }
    add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
    if (issuer) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid");
    std::string san;
    for (const auto& e : spec.emails) san += (san.empty() ? "email:" : ",email:") + e;
    if (!san.empty()) add_ext(cert.get(), issuer, NID_subject_alt_name, san);
    check(X509_sign(cert.get(), issuer_key ? issuer_key : key,
                    spec.digest ? spec.digest : EVP_sha256()) > 0,
          "sign");
    return cert;
}

std::string make_pkcs12(EVP_PKEY* key, X509* cert, const std::vector<X509*>& chain,
                        const std::string& password, bool legacy) {
    ensure_legacy_provider();
    ossl::X509StackPtr ca(sk_X509_new_null());
    for (X509* c : chain) {
        X509_up_ref(c);
        sk_X509_push(ca.get(), c);
    }
    const int key_nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
    const int cert_nid = legacy ? NID_pbe_WithSHA1And40BitRC2_CBC : NID_aes_256_cbc;
    PKCS12* raw = PKCS12_create_ex(password.empty() ? nullptr : password.c_str(), "test", key, cert,
                                   ca.get(), key_nid, cert_nid, 2048, 1, 0, nullptr, nullptr);
    check(raw != nullptr, "PKCS12_create");
    ossl::Pkcs12Ptr p12(raw);
    if (legacy)
        PKCS12_set_mac(p12.get(), password.empty() ? nullptr : password.c_str(), -1, nullptr, 0,
                       2048, EVP_sha1());
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    i2d_PKCS12_bio(out.get(), p12.get());
    return ossl::bio_contents(out.get());
}

std::string make_mismatched_pkcs12(EVP_PKEY* key, X509* other_cert, const std::string& password) {
    STACK_OF(PKCS12_SAFEBAG)* bags = nullptr;
    PKCS12_SAFEBAG* cbag = PKCS12_add_cert(&bags, other_cert);
    check(cbag != nullptr, "cert bag");
    const unsigned char id[] = {1, 2, 3, 4};
    PKCS12_add_localkeyid(cbag, const_cast<unsigned char*>(id), sizeof id);
    STACK_OF(PKCS7)* safes = nullptr;
    check(PKCS12_add_safe(&safes, bags, NID_aes_256_cbc, 2048, password.c_str()) == 1, "cert safe");
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    bags = nullptr;
    PKCS12_SAFEBAG* kbag = PKCS12_add_key(&bags, key, 0, 2048, NID_aes_256_cbc, password.c_str());
    check(kbag != nullptr, "key bag");
    PKCS12_add_localkeyid(kbag, const_cast<unsigned char*>(id), sizeof id);
    check(PKCS12_add_safe(&safes, bags, -1, 0, nullptr) == 1, "key safe");
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    ossl::Pkcs12Ptr p12(PKCS12_add_safes(safes, 0));
    sk_PKCS7_pop_free(safes, PKCS7_free);
    check(p12 != nullptr, "safes");
    PKCS12_set_mac(p12.get(), password.c_str(), -1, nullptr, 0, 2048, EVP_sha256());
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    i2d_PKCS12_bio(out.get(), p12.get());
    return ossl::bio_contents(out.get());
}

std::string pem_of(X509* cert) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return ossl::bio_contents(bio.get());
}

std::string der_of_key(EVP_PKEY* key) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return ossl::bio_contents(bio.get());
}

std::string pem_of_key(EVP_PKEY* key) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    return ossl::bio_contents(bio.get());
}

TestPki TestPki::make(const std::string& rsa_email, const std::string& ec_email) {
    TestPki p;
    p.ca_key = make_rsa_key(2048);
    p.ca = make_cert(p.ca_key.get(), {"Test Root CA", {}, true, -1, 3650});
    p.rsa_key = make_rsa_key(2048);
    p.rsa_cert = make_cert(p.rsa_key.get(),
                           {"Alice",
                            {rsa_email},
                            false,
                            -1,
                            365,
                            "digitalSignature,keyEncipherment",
                            "emailProtection"},
                           p.ca.get(), p.ca_key.get());
    p.ec_key = make_ec_key("P-256");
    p.ec_cert = p.issue_ec(p.ec_key.get(), "Bob", ec_email);
    return p;
}

ossl::X509Ptr TestPki::issue_ec(EVP_PKEY* key, const std::string& name,
                                const std::string& email) const {
    return make_cert(
        key, {name, {email}, false, -1, 365, "digitalSignature,keyAgreement", "emailProtection"},
        ca.get(), ca_key.get());
}

}  // namespace smime::test
