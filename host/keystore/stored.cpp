// SPDX-License-Identifier: MIT
// Encoding and decoding what the key store's tables hold.
#include "keystore/stored.h"

#include "engine/certificate_cache.h"
#include "util/error.h"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

namespace smime::stored {

std::time_t now() { return std::time(nullptr); }

const char* source_name(int source) {
    switch (source) {
        case 0: return "chain";
        case 1: return "harvested";
        case 2: return "imported";
        case 3: return "identity";
    }
    return "unknown";
}

int source_rank(const std::string& name) {
    if (name == "identity") return 3;
    if (name == "imported") return 2;
    if (name == "harvested") return 1;
    return 0;
}

std::string pkcs8_der(EVP_PKEY* key) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw Error(Code::Internal, "cannot encode the private key");
    // Copy out and wipe the BIO's buffer: it held the key in clear.
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio.get(), &mem);
    std::string out(mem->data, mem->length);
    OPENSSL_cleanse(mem->data, mem->max);
    return out;
}

namespace {

// The key type a PrivateKeyInfo names in its algorithm (RFC 5208), read in place, or nullptr.
const char* pkcs8_key_type(const SecureString& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const unsigned char* const end = p + der.size();
    long length = 0;
    int tag = 0, cls = 0;
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm SEQUENCE { OID, ...
    const auto enter = [&](int want, bool constructed) {
        const int flags = ASN1_get_object(&p, &length, &tag, &cls, end - p);
        return !(flags & 0x80) && tag == want && cls == V_ASN1_UNIVERSAL &&
               ((flags & V_ASN1_CONSTRUCTED) != 0) == constructed && length <= end - p;
    };
    if (!enter(V_ASN1_SEQUENCE, true) || !enter(V_ASN1_INTEGER, false)) return nullptr;
    p += length;
    if (!enter(V_ASN1_SEQUENCE, true)) return nullptr;
    const unsigned char* oid_der = p;
    if (!enter(V_ASN1_OBJECT, false)) return nullptr;
    const ossl::Asn1ObjectPtr oid(d2i_ASN1_OBJECT(nullptr, &oid_der, p + length - oid_der));
    switch (oid ? OBJ_obj2nid(oid.get()) : NID_undef) {
        case NID_rsaEncryption: return "RSA";
        case NID_rsassaPss: return "RSA-PSS";
        case NID_X9_62_id_ecPublicKey: return "EC";
        case NID_ED25519: return "ED25519";
        case NID_ED448: return "ED448";
        default: return nullptr;
    }
}

}  // namespace

// OpenSSL 3.0 sets up a decoder for every key format it knows when asked to guess
// (d2i_AutoPrivateKey): naming the structure and the key type, read from the DER first, spares a
// fresh process about 3 million instructions per key.
ossl::PKeyPtr parse_pkcs8(const SecureString& der) {
    use_secure_heap();
    EVP_PKEY* key = nullptr;
    if (const char* type = pkcs8_key_type(der)) {
        const ossl::DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(
            &key, "DER", "PrivateKeyInfo", type, EVP_PKEY_KEYPAIR, nullptr, nullptr));
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        std::size_t left = der.size();
        if (!decoder || OSSL_DECODER_from_data(decoder.get(), &p, &left) != 1) {
            EVP_PKEY_free(key);
            key = nullptr;
        }
    }
    if (!key) {
        ERR_clear_error();
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
    }
    if (!key) throw Error(Code::Storage, "a stored private key cannot be decoded");
    return ossl::PKeyPtr(key);
}

// One cache for every certificate a process decodes (engine::cached_certificate): OpenSSL 3.0
// spends about a million instructions decoding one, every message decodes the same few stored
// ones again (anchors, intermediates, the user's own), and a signed message usually carries the
// very intermediate the store holds. Certificates are immutable and reference-counted.
ossl::X509Ptr x509_from_der(const std::string& der) {
    ossl::X509Ptr cert = engine::cached_certificate(der);
    if (!cert) throw Error(Code::Storage, "a stored certificate cannot be decoded");
    return cert;
}

ossl::X509CrlPtr crl_from_der(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    return ossl::X509CrlPtr(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
}

void check_fingerprint(const std::string& fp) {
    if (fp.size() != 64 || fp.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error(Code::BadRequest, "a fingerprint is 64 lowercase hex digits (SHA-256)",
                    {{"field", "args.fingerprint"}});
}

}  // namespace smime::stored
