// SPDX-License-Identifier: MIT
// Private keys at rest: a key-encryption key derived from the passphrase with scrypt (RFC 7914),
// and AES-256-GCM sealing bound to the certificate's fingerprint as associated data.
#pragma once

#include "util/secure.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace smime::sealing {

// scrypt's cost for a passphrase: 2^17 with r = 8 needs 128 MiB and some 0.3 s per derivation.
inline constexpr std::uint64_t kProtectedScryptN = 1u << 17;
// Without a passphrase the sealing protects nothing (the salt sits beside the sealed keys), so
// the derivation is as cheap as scrypt allows: N = 2^10 with r = 8 cost 25 million instructions,
// a third of signing a small message in a fresh process.
inline constexpr std::uint64_t kUnprotectedScryptN = 2;
inline constexpr std::uint32_t kUnprotectedScryptR = 1;

struct KdfParams {
    std::uint64_t n = kProtectedScryptN;  // CPU/memory cost
    std::uint32_t r = 8;
    std::uint32_t p = 1;
    std::string salt;  // 16 random bytes
    // 1: the first release (verifier sealed with the fixed associated data "verifier");
    // 2: the verifier's associated data is the stored parameter record itself.
    int version = 2;

    static KdfParams fresh(bool protected_store, std::uint64_t protected_n = kProtectedScryptN);
    nlohmann::json to_json() const;
    // Throws Error(Storage) if unusable, or if the parameters ask for more than 1 GiB of memory.
    static KdfParams from_json(const nlohmann::json& j);
};

// 32-byte key-encryption key. Throws Error(Internal) if the KDF is unavailable.
SecureString derive_key(const SecureString& passphrase, const KdfParams& params);

// Returns version(1) || nonce(12) || ciphertext || tag(16).
std::string seal(const SecureString& key, std::string_view plaintext,
                 std::string_view associated_data);

// Opens what seal() made; false if the key or the associated data is wrong or the data was altered.
bool unseal(const SecureString& key, std::string_view sealed, std::string_view associated_data,
            SecureString& out);

std::string random_bytes(std::size_t n);

}  // namespace smime::sealing
