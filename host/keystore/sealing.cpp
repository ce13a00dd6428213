// SPDX-License-Identifier: MIT
// scrypt and AES-256-GCM through OpenSSL 3's EVP interfaces.
#include "keystore/sealing.h"

#include "util/base64.h"
#include "util/error.h"
#include "util/log.h"
#include "util/ossl.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

namespace smime::sealing {
namespace {
constexpr unsigned char kVersion = 1;
constexpr std::size_t kNonce = 12, kTag = 16, kKey = 32;

// What OpenSSL's scrypt allocates (B and V of RFC 7914 section 6), to set maxmem to what these
// parameters need and no more.
std::uint64_t scrypt_memory(const KdfParams& params) {
    return 128ull * params.r * (params.n + 2) + 128ull * params.r * params.p;
}
}  // namespace

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw Error(Code::Internal, "no randomness available");
    return out;
}

KdfParams KdfParams::fresh(bool protected_store, std::uint64_t protected_n) {
    KdfParams p;
    p.n = protected_store ? protected_n : kUnprotectedScryptN;
    if (!protected_store) p.r = kUnprotectedScryptR;
    p.salt = random_bytes(16);
    return p;
}

nlohmann::json KdfParams::to_json() const {
    nlohmann::json j = {
        {"kdf", "scrypt"}, {"n", n}, {"r", r}, {"p", p}, {"salt", base64::encode(salt)}};
    if (version >= 2) j["v"] = version;
    return j;
}

KdfParams KdfParams::from_json(const nlohmann::json& j) {
    KdfParams out;
    try {
        if (j.at("kdf") != "scrypt")
            throw Error(Code::Storage, "unknown key derivation in the key store");
        out.n = j.at("n").get<std::uint64_t>();
        out.r = j.at("r").get<std::uint32_t>();
        out.p = j.at("p").get<std::uint32_t>();
        out.version = j.contains("v") ? j.at("v").get<int>() : 1;
        out.salt.clear();
        if (!base64::decode_append(j.at("salt").get<std::string>(), out.salt))
            throw Error(Code::Storage, "corrupt key derivation parameters");
    } catch (const nlohmann::json::exception&) {
        throw Error(Code::Storage, "corrupt key derivation parameters");
    }
    // Bounds, so that a damaged or hostile file cannot make every process allocate gigabytes.
    const bool power_of_two = out.n >= 2 && (out.n & (out.n - 1)) == 0;
    if (!power_of_two || out.n > (1u << 20) || out.r < 1 || out.r > 32 || out.p < 1 || out.p > 16 ||
        out.salt.size() < 16 || out.salt.size() > 64 || out.version < 1 || out.version > 2 ||
        scrypt_memory(out) > (1ull << 30))
        throw Error(Code::Storage, "unusable key derivation parameters in the key store");
    return out;
}

SecureString derive_key(const SecureString& passphrase, const KdfParams& params) {
    ossl::KdfPtr kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
    if (!kdf) throw Error(Code::Internal, "scrypt is not available");
    ossl::KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
    std::uint64_t n = params.n;
    std::uint32_t r = params.r, p = params.p;
    std::uint64_t maxmem = scrypt_memory(params) + (1u << 16);
    OSSL_PARAM list[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                          const_cast<char*>(passphrase.data()), passphrase.size()),
        OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, const_cast<char*>(params.salt.data()), params.salt.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end()};
    SecureString key(std::string(kKey, '\0'));
    key.lock_pages();
    if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(key.mutable_str().data()), kKey,
                       list) != 1) {
        log::openssl_errors("scrypt");
        throw Error(Code::Internal, "key derivation failed");
    }
    return key;
}

std::string seal(const SecureString& key, std::string_view plaintext,
                 std::string_view associated_data) {
    const std::string nonce = random_bytes(kNonce);
    ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    std::string out;
    out.reserve(1 + kNonce + plaintext.size() + kTag);
    out.push_back(static_cast<char>(kVersion));
    out += nonce;
    out.resize(1 + kNonce + plaintext.size() + kTag);
    auto* ct = reinterpret_cast<unsigned char*>(out.data() + 1 + kNonce);
    int len = 0, total = 0;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(associated_data.data()),
                          static_cast<int>(associated_data.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), ct, &len,
                          reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1)
        throw Error(Code::Internal, "sealing failed");
    total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), ct + total, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, ct + plaintext.size()) != 1)
        throw Error(Code::Internal, "sealing failed");
    return out;
}

bool unseal(const SecureString& key, std::string_view sealed, std::string_view associated_data,
            SecureString& out) {
    if (sealed.size() < 1 + kNonce + kTag || static_cast<unsigned char>(sealed[0]) != kVersion)
        return false;
    const std::size_t n = sealed.size() - 1 - kNonce - kTag;
    const auto* iv = reinterpret_cast<const unsigned char*>(sealed.data() + 1);
    const auto* ct = reinterpret_cast<const unsigned char*>(sealed.data() + 1 + kNonce);
    std::string tag(sealed.substr(1 + kNonce + n, kTag));
    ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    std::string& plain = out.mutable_str();
    out.wipe();
    plain.resize(n);
    out.lock_pages();
    int len = 0;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(associated_data.data()),
                          static_cast<int>(associated_data.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, ct,
                          static_cast<int>(n)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                            &len) != 1) {
        out.wipe();
        ERR_clear_error();
        return false;
    }
    return true;
}

}  // namespace smime::sealing
