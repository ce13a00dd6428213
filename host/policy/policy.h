// SPDX-License-Identifier: MIT
// The organisation's policy: what an administrator allows and requires (docs/policy.md). Read once
// at start; a malformed file fails closed for private-key operations, never open.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace smime {

struct Policy {
    bool in_force = false;             // a policy file exists
    std::filesystem::path source;      // where it was read from
    std::optional<std::string> error;  // set when the file is malformed: fail closed

    bool enabled = true;
    std::vector<std::string> allowed_domains;  // empty = any
    bool require_signing = false;
    bool require_encryption_when_possible = false;
    std::vector<std::string> trust_anchors;  // PEM
    bool allow_user_trust_anchors = true;
    bool use_system_trust_anchors = true;  // the operating system's roots (ca-certificates)
    int min_rsa_bits = 2048;
    std::vector<std::string> allowed_digests = {"sha256", "sha384", "sha512"};
    std::vector<std::string> allowed_content_encryption = {"aes256-gcm", "aes128-gcm", "aes256-cbc",
                                                           "aes192-cbc", "aes128-cbc"};
    bool allow_sha1_verification = false;
    bool allow_key_backup = true;

    // The platform's location (/etc/smime-host/policy.json on Linux).
    static std::filesystem::path system_location();
    // `system` whenever anything is there; `named` (SMIME_HOST_POLICY) only where nothing is.
    static std::filesystem::path choose_location(const std::filesystem::path& system,
                                                 const std::optional<std::string>& named);
    static std::filesystem::path default_location();
    // No file: everything allowed. A file that cannot be read or parsed, or any obstacle other than
    // "does not exist" (permissions, dangling link, loop, folder): `error` set (fails closed).
    static Policy load(const std::filesystem::path& file);
    static Policy load_default() { return load(default_location()); }

    // Throws Error(Policy) if private-key operations (and identity import) are not allowed here,
    // naming the file and the problem when it is malformed.
    void require_private_key_operations() const;
    // Throws Error(Policy) unless every address is in an allowed domain.
    void check_identity_addresses(const std::vector<std::string>& emails) const;
    // Throws Error(Policy) if a policy is in force and an RSA key is under min_rsa_bits.
    void check_identity_key(const std::string& key_type, int key_bits) const;
    bool digest_allowed(const std::string& digest) const;
    bool content_encryption_allowed(const std::string& algorithm) const;

    // What `hello` and `keystore.status` report: {in_force, source?, error?, effective values}.
    nlohmann::json describe() const;
};

}  // namespace smime
