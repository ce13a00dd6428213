// SPDX-License-Identifier: MIT
// Encoding and decoding what the key store's tables hold.
#include "keystore/stored.h"

#include "util/error.h"

#include <openssl/pem.h>

#include <mutex>
#include <unordered_map>

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

ossl::PKeyPtr parse_pkcs8(const SecureString& der) {
    use_secure_heap();
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
    if (!key) throw Error(Code::Storage, "a stored private key cannot be decoded");
    return ossl::PKeyPtr(key);
}

// OpenSSL 3.0 spends about a million instructions decoding one certificate (its public key goes
// through the provider decoders), and every message decodes the same few stored ones again:
// anchors, intermediates, the user's own. Certificates are immutable and reference-counted, so a
// process keeps the ones it decoded, keyed by their DER, and hands out references.
ossl::X509Ptr x509_from_der(const std::string& der) {
    constexpr std::size_t kKept = 256;  // bounds memory when a listing walks thousands
    static std::mutex mutex;
    static std::unordered_map<std::string, ossl::X509Ptr> decoded;
    const std::lock_guard lock(mutex);
    if (const auto it = decoded.find(der); it != decoded.end())
        return ossl::up_ref(it->second.get());
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (!cert) throw Error(Code::Storage, "a stored certificate cannot be decoded");
    if (decoded.size() >= kKept) decoded.clear();
    decoded.emplace(der, ossl::up_ref(cert));
    return ossl::X509Ptr(cert);
}

void check_fingerprint(const std::string& fp) {
    if (fp.size() != 64 || fp.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error(Code::BadRequest, "a fingerprint is 64 lowercase hex digits (SHA-256)",
                    {{"field", "args.fingerprint"}});
}

}  // namespace smime::stored
