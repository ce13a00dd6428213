// SPDX-License-Identifier: MIT
// The per-user key store: the user's identities (certificate + sealed private key), recipients'
// certificates, trust anchors and CRLs, in one SQLite file shared by every host process.
#pragma once

#include "cms/keys.h"
#include "keystore/database.h"
#include "policy/policy.h"
#include "util/secure.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace smime {

using json = nlohmann::json;

class KeyStore final : public engine::KeyProvider {
public:
    static constexpr const char* kFileName = "keystore.sqlite";
    static constexpr int kDefaultIdleMinutes = 30;

    // Opens or creates the store in `directory` (mode 0700, file 0600), migrating the schema.
    // `policy` must outlive the store; the default is "no policy: everything allowed".
    explicit KeyStore(const std::filesystem::path& directory, const Policy& policy = no_policy());
    static const Policy& no_policy();

    const std::filesystem::path& path() const noexcept { return path_; }

    // keystore.*
    json status();
    void set_passphrase(const SecureString& new_passphrase, const std::optional<SecureString>& old_passphrase);
    void unlock(const SecureString& passphrase, std::optional<int> idle_minutes);
    void lock() noexcept;
    bool is_protected();
    bool is_unlocked();

    // identities.*
    json import_identity(std::string_view pkcs12_der, const SecureString& password);
    json list_identities();
    json activate(const std::string& fingerprint);
    json deactivate(const std::string& fingerprint);
    void delete_identity(const std::string& fingerprint);
    std::string export_certificate(const std::string& fingerprint, bool with_chain);
    std::string backup(const std::string& fingerprint, const SecureString& password);  // CLI only

    // The active identity for an address, with its private key. Throws NoIdentity or Locked.
    engine::Identity signing_identity(const std::string& email);
    engine::Identity identity(const std::string& fingerprint);
    std::optional<std::string> active_fingerprint(const std::string& email);
    // The active identity's certificate for an address, as an encryption recipient (no key needed).
    std::optional<engine::Recipient> own_recipient(const std::string& email);

    // certificates.*
    json import_certificate(std::string_view text, bool trust_anchor);
    json import_crl(std::string_view text);
    json list_certificates(const std::optional<std::string>& email);
    void delete_certificate(const std::string& fingerprint);

    // recipients.status, and the certificates encryption uses.
    json recipients_status(const std::vector<std::string>& addresses);
    std::optional<engine::Recipient> recipient(const std::string& address);

    // engine::KeyProvider
    std::vector<engine::Identity> decryption_identities() override;
    std::vector<ossl::X509Ptr> trust_anchors() override;
    std::vector<ossl::X509Ptr> intermediates() override;
    std::vector<ossl::X509CrlPtr> crls() override;
    pki::TrustMaterial trust_material() override;
    std::vector<ossl::X509Ptr> certificates_with_serial(const std::string& serial_hex) override;
    void harvest(const engine::Harvest& learned) override;

private:
    enum class Source { Chain = 0, Harvested = 1, Imported = 2, Identity = 3 };
    void store_certificate(X509* cert, Source source, bool trust_anchor);
    std::vector<ossl::X509Ptr> own_trust_anchors();  // the policy's and the user's, not the system's
    bool has_identity(const std::string& fingerprint);
    const SecureString& key_encryption_key();  // throws Locked
    SecureString unseal_key(const std::string& fingerprint, const std::string& sealed);
    engine::Identity load_identity(const std::string& fingerprint);
    json describe_identity(const std::string& fingerprint);
    void apply_unlock_delay();
    std::optional<std::string> meta(const char* key);
    void set_meta(const char* key, const std::string& value);
    bool try_auto_unlock();

    std::filesystem::path path_;
    const Policy& policy_;
    db::Database db_;
    SecureString kek_;
    long long last_use_ms_ = 0;
    int idle_minutes_ = kDefaultIdleMinutes;
};

}  // namespace smime
