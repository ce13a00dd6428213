// SPDX-License-Identifier: MIT
// The per-user key store: the user's identities (certificate + sealed private key), recipients'
// certificates, trust anchors and CRLs, in one SQLite file shared by every host process.
#pragma once

#include "engine/keys.h"
#include "keystore/database.h"
#include "keystore/sealing.h"
#include "pki/chain.h"
#include "policy/policy.h"
#include "util/secure.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace smime {

using json = nlohmann::json;

// Costs and timings a deployment never changes: the host binary always uses these defaults, and
// nothing in the environment or the store file can lower them. Library tests pass cheaper ones.
struct KeyStoreTuning {
    std::uint64_t scrypt_n = sealing::kProtectedScryptN;    // for passphrase-protected stores
    std::optional<std::chrono::milliseconds> idle_timeout;  // replaces idle_minutes when set
};

class KeyStore final : public engine::KeyProvider {
public:
    static constexpr const char* kFileName = "keystore.sqlite";
    static constexpr int kDefaultIdleMinutes = 30;

    // Opens or creates the store in `directory` (mode 0700, file 0600), migrating the schema.
    // `policy` must outlive the store; the default is "no policy: everything allowed".
    explicit KeyStore(const std::filesystem::path& directory, const Policy& policy = no_policy(),
                      KeyStoreTuning tuning = {});
    ~KeyStore() override;
    KeyStore(const KeyStore&) = delete;
    KeyStore& operator=(const KeyStore&) = delete;
    static const Policy& no_policy();

    const std::filesystem::path& path() const noexcept { return path_; }

    // keystore.*
    json status();
    void set_passphrase(const SecureString& new_passphrase,
                        const std::optional<SecureString>& old_passphrase);
    void unlock(const SecureString& passphrase, std::optional<int> idle_minutes);
    void lock() noexcept;
    bool is_protected();
    bool is_unlocked();
    // Whether this process holds the derived key in memory right now. The idle timeout wipes it
    // on time from a watchdog thread, whether or not a request comes.
    bool holds_key() const noexcept;

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
    // One page, newest first: {certificates: [...], total}. limit 1..kMaxListLimit.
    static constexpr std::int64_t kDefaultListLimit = 100;
    static constexpr std::int64_t kMaxListLimit = 1000;
    json list_certificates(const std::optional<std::string>& email, std::int64_t offset = 0,
                           std::int64_t limit = kDefaultListLimit);
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
    void add_paths_from(pki::TrustMaterial& material, const std::vector<X509*>& from) override;
    // Every stored anchor (when the policy allows them), intermediate and CRL, at once.
    void add_all_stored(pki::TrustMaterial& material);
    std::vector<ossl::X509Ptr> certificates_with_serial(const std::string& serial_hex) override;
    void harvest(const engine::Harvest& learned) override;

private:
    // The certificate chosen for an address, and what the choice rests on.
    struct Choice {
        ossl::X509Ptr certificate;
        std::string fingerprint;
        std::string source;
        bool trusted = false;  // its path validates to an anchor now
        std::vector<std::string> capabilities;
    };
    static constexpr std::int64_t kMaxCandidates = 64;  // per address, best first
    std::optional<Choice> choose_recipient(const std::string& address,
                                           std::optional<pki::TrustMaterial>& material);
    // Builds `material` from the store on first use.
    bool trusted(X509* cert, std::optional<pki::TrustMaterial>& material);

    enum class Source { Chain = 0, Harvested = 1, Imported = 2, Identity = 3 };
    void store_certificate(X509* cert, Source source, bool trust_anchor);
    bool known(const std::string& fingerprint);
    bool teaches_nothing(const engine::Harvest& learned, const std::vector<std::string>& addresses,
                         bool preferred, const std::string& capabilities, std::int64_t now);
    std::vector<ossl::X509Ptr>
    own_trust_anchors();  // the policy's and the user's, not the system's
    std::vector<ossl::X509Ptr> policy_anchors();
    bool has_identity(const std::string& fingerprint);
    struct KeyRecord;
    SecureString key_encryption_key();  // a copy of the derived key; throws Locked
    // Inside a write transaction: the derived key, if it still matches the store's key record
    // (another process may have changed the passphrase). Throws Locked otherwise.
    SecureString current_key_in_transaction();
    SecureString unseal_key(const std::string& fingerprint, const std::string& sealed);
    // The decoded private key of an identity whose stored sealed form is `sealed`.
    ossl::PKeyPtr private_key(const std::string& fingerprint, const std::string& sealed);
    // Wipes the key-encryption key and the keys decoded with it; key_mutex_ held.
    void forget_keys() noexcept;
    // The key-encryption key is held and the idle time has not run out; key_mutex_ held.
    bool key_is_fresh() const;
    // The identity with its private key and, if `with_chain`, its stored issuers. Throws
    // Error(Policy), before the key is unsealed, if the policy refuses the identity.
    engine::Identity load_identity(const std::string& fingerprint, bool with_chain = true);
    // Throws Error(Policy) if the policy refuses this identity (allowed_domains, min_rsa_bits).
    void check_identity_policy(X509* certificate) const;
    json describe_identity(const std::string& fingerprint);
    void reserve_unlock_attempt();
    std::optional<KeyRecord> key_record();
    void write_key_record(const SecureString& key, const sealing::KdfParams& params, bool protect);
    void reseal_identities(const SecureString& old_key, const SecureString& new_key);
    std::optional<std::string> meta(const char* key);
    void set_meta(const char* key, const std::string& value);
    bool try_auto_unlock(bool may_write = true);
    void hold_key(SecureString key, std::string record);
    void watch_idle();
    std::chrono::milliseconds idle_timeout() const;

    std::filesystem::path path_;
    const Policy& policy_;
    const KeyStoreTuning tuning_;
    db::Database db_;

    // The derived key and the record it was checked against, shared with the idle watchdog.
    mutable std::mutex key_mutex_;
    std::condition_variable key_changed_;
    SecureString kek_;
    std::string kek_record_;
    std::chrono::steady_clock::time_point last_use_{};
    // Private keys decoded while the key-encryption key is held, each with the sealed form it
    // came from: a port kept open does not decode (and set up RSA blinding for) the same key for
    // every message. An entry counts only while the store still holds that sealed form, and they
    // all go with the key-encryption key (forget_keys).
    struct DecodedKey {
        std::string sealed;
        ossl::PKeyPtr key;
    };
    std::map<std::string, DecodedKey> decoded_keys_;
    int idle_minutes_ = kDefaultIdleMinutes;
    bool stopping_ = false;
    std::thread idle_watchdog_;
};

}  // namespace smime
