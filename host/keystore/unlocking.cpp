// SPDX-License-Identifier: MIT
// Unlocking and sealing: the key derivation record, the passphrase, unlock throttling, the key
// held in memory and the idle watchdog that wipes it, and opening sealed private keys.
#include "keystore/keystore.h"

#include "keystore/schema.h"
#include "keystore/sealing.h"
#include "keystore/stored.h"
#include "util/error.h"
#include "util/log.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

namespace smime {

namespace {

constexpr const char* kVerifierText = "smime-host key store v1";
constexpr const char* kVerifierAad = "verifier";  // version 1 of the parameter record
constexpr const char* kRecordAadPrefix = "smime-host key derivation record\n";

// Unlock throttling: three free attempts, then 250 ms doubling up to 8 s between attempts.
constexpr long long kThrottleFreeAttempts = 3, kThrottleBaseMs = 250, kThrottleMaxShift = 5;

}  // namespace

// The store's key parameters and the check value sealed under the derived key. Any change of
// passphrase or parameters writes a new salt and a new verifier, so `identity` tells whether a
// key derived earlier still belongs to the store.
struct KeyStore::KeyRecord {
    std::string kdf;  // the parameter record exactly as stored
    std::string verifier;
    bool protect = false;
    sealing::KdfParams params;

    std::string identity() const { return kdf + '\n' + verifier; }
    // Version 2 seals the verifier with the parameter record as associated data, so the record
    // cannot be edited (a lower cost, another layout) without the verifier failing to open.
    std::string verifier_aad() const {
        return params.version >= 2 ? std::string(kRecordAadPrefix) + kdf : kVerifierAad;
    }
    bool opens_with(const SecureString& key) const {
        SecureString check;
        return sealing::unseal(key, verifier, verifier_aad(), check) &&
               check.str() == kVerifierText;
    }
};

std::optional<KeyStore::KeyRecord> KeyStore::key_record() {
    auto st =
        db_.prepare("SELECT key, value FROM meta WHERE key IN ('kdf', 'verifier', 'protected')");
    KeyRecord record;
    bool have_kdf = false;
    while (st.step()) {
        const std::string key = st.text(0);
        if (key == "kdf") {
            record.kdf = st.text(1);
            have_kdf = true;
        } else if (key == "verifier") {
            record.verifier = st.blob(1);
        } else {
            record.protect = st.text(1) == "1";
        }
    }
    if (!have_kdf) return std::nullopt;
    try {
        record.params = sealing::KdfParams::from_json(json::parse(record.kdf));
    } catch (const json::exception&) {
        throw Error(Code::Storage, "corrupt key derivation parameters");
    }
    return record;
}

void KeyStore::write_key_record(const SecureString& key, const sealing::KdfParams& params,
                                bool protect) {
    KeyRecord record;
    record.kdf = params.to_json().dump();
    record.params = params;
    set_meta("kdf", record.kdf);
    set_meta("verifier", sealing::seal(key, kVerifierText, record.verifier_aad()));
    set_meta("protected", protect ? "1" : "0");
}

// Inside the caller's transaction. A key that does not open under `old_key` (damaged, or sealed
// under another key by an earlier release) is left as it is: it is unreadable either way, and it
// must not stop the others from following the new key.
void KeyStore::reseal_identities(const SecureString& old_key, const SecureString& new_key) {
    std::vector<std::pair<std::string, std::string>> resealed;
    {
        auto st = db_.prepare("SELECT fingerprint, sealed_key FROM identities");
        while (st.step()) {
            const std::string fp = st.text(0);
            SecureString plain;
            if (!sealing::unseal(old_key, st.blob(1), fp, plain)) {
                log::warn("the private key of identity " + fp + " does not open; left as it is");
                continue;
            }
            resealed.emplace_back(fp, sealing::seal(new_key, plain.str(), fp));
        }
    }
    for (const auto& [fp, sealed] : resealed)
        db_.prepare("UPDATE identities SET sealed_key = ? WHERE fingerprint = ?")
            .bind_blob(1, sealed)
            .bind(2, fp)
            .run();
}

bool KeyStore::is_protected() { return meta("protected").value_or("0") == "1"; }

std::chrono::milliseconds KeyStore::idle_timeout() const {
    if (tuning_.idle_timeout) return *tuning_.idle_timeout;
    return std::chrono::minutes(idle_minutes_);
}

bool KeyStore::key_is_fresh() const {
    return !kek_.empty() && std::chrono::steady_clock::now() - last_use_ < idle_timeout();
}

bool KeyStore::holds_key() const noexcept {
    std::lock_guard lock(key_mutex_);
    return !kek_.empty();
}

bool KeyStore::is_unlocked() {
    std::lock_guard lock(key_mutex_);
    // The watchdog wipes on time; this covers the moment before it has run.
    if (!key_is_fresh()) forget_keys();
    return !kek_.empty();
}

void KeyStore::lock() noexcept {
    std::lock_guard lock(key_mutex_);
    forget_keys();
}

void KeyStore::forget_keys() noexcept {
    kek_.wipe();
    kek_record_.clear();
    decoded_keys_.clear();
}

void KeyStore::hold_key(SecureString key, std::string record) {
    {
        std::lock_guard lock(key_mutex_);
        decoded_keys_.clear();  // decoded under the key this one replaces
        kek_ = std::move(key);
        kek_record_ = std::move(record);
        last_use_ = std::chrono::steady_clock::now();
        if (!idle_watchdog_.joinable()) idle_watchdog_ = std::thread([this] { watch_idle(); });
    }
    key_changed_.notify_all();
}

// Wipes the derived key when the idle time has passed, without waiting for the next request (the
// request loop blocks reading stdin and may wait there for hours).
void KeyStore::watch_idle() {
    std::unique_lock lock(key_mutex_);
    while (!stopping_) {
        if (kek_.empty()) {
            key_changed_.wait(lock);
            continue;
        }
        const auto deadline = last_use_ + idle_timeout();
        if (std::chrono::steady_clock::now() >= deadline) {
            forget_keys();
            log::info("key store locked after idle timeout");
            continue;
        }
        key_changed_.wait_until(lock, deadline);
    }
}

// A store without a passphrase is sealed under a key derived from the empty passphrase: it opens
// itself, and says so (protected: false).
bool KeyStore::try_auto_unlock(bool may_write) {
    auto record = key_record();
    if (!record) {
        // First use: create the store's parameters, unprotected.
        db::Transaction tx(db_);
        if (!key_record()) {
            const auto params = sealing::KdfParams::fresh(false);
            write_key_record(sealing::derive_key(SecureString(), params), params, false);
        }
        tx.commit();
        record = key_record();
    }
    if (record->protect) return false;
    SecureString key = sealing::derive_key(SecureString(), record->params);
    if (!record->opens_with(key))
        throw Error(Code::Storage, "the key store's verifier does not open: the store is damaged");
    const bool costly = record->params.n * record->params.r >
                        sealing::kUnprotectedScryptN * sealing::kUnprotectedScryptR;
    if (may_write && (record->params.version < 2 || costly)) {
        // A store of the first release: bind its parameter record to the verifier. A store of an
        // earlier, costlier derivation: bring it down to today's, which every process pays.
        db::Transaction tx(db_);
        const auto now_record = key_record();
        if (now_record && now_record->identity() == record->identity()) {
            const auto params = sealing::KdfParams::fresh(false);
            SecureString new_key = sealing::derive_key(SecureString(), params);
            reseal_identities(key, new_key);
            write_key_record(new_key, params, false);
            tx.commit();
            key = std::move(new_key);
        }
        record = key_record();
        if (!record->opens_with(key)) return try_auto_unlock(false);
    }
    hold_key(std::move(key), record->identity());
    return true;
}

SecureString KeyStore::key_encryption_key() {
    {
        std::lock_guard lock(key_mutex_);
        if (key_is_fresh()) {
            last_use_ = std::chrono::steady_clock::now();
            return kek_;
        }
        forget_keys();
    }
    if (!try_auto_unlock())
        throw Error(Code::Locked, "the key store is locked: unlock it with your passphrase");
    std::lock_guard lock(key_mutex_);
    return kek_;
}

SecureString KeyStore::current_key_in_transaction() {
    const auto record = key_record();
    if (!record)
        throw Error(Code::Locked, "the key store is locked: unlock it with your passphrase");
    {
        std::lock_guard lock(key_mutex_);
        const bool fresh = key_is_fresh();
        if (fresh && kek_record_ == record->identity()) {
            last_use_ = std::chrono::steady_clock::now();
            return kek_;
        }
        if (fresh) log::info("the key store passphrase changed in another process; locking");
        forget_keys();
    }
    if (!record->protect && try_auto_unlock(false)) {
        std::lock_guard lock(key_mutex_);
        return kek_;
    }
    throw Error(
        Code::Locked,
        "the key store is locked, or its passphrase changed since this process unlocked it: "
        "unlock again");
}

json KeyStore::status() {
    if (!meta("kdf")) try_auto_unlock();  // creates the parameters on first use
    auto count = [&](const char* sql) {
        auto st = db_.prepare(sql);
        st.step();
        return st.integer(0);
    };
    const bool prot = is_protected();
    return {
        {"path", path_.string()},
        {"protected", prot},
        {"unlocked", prot ? is_unlocked() : true},
        {"idle_lock_minutes", idle_minutes_},
        {"schema_version", schema::kCurrentVersion},
        {"policy", policy_.describe()},
        {"counts",
         {{"identities", count("SELECT count(*) FROM identities")},
          {"certificates", count("SELECT count(*) FROM certificates WHERE source <> 'identity'")},
          {"trust_anchors", count("SELECT count(*) FROM certificates WHERE trust_anchor = 1")},
          {"crls", count("SELECT count(*) FROM crls")}}}};
}

// Guessing is limited for the whole store, not per process: the failure count and the time of
// the last attempt live in the store, and an attempt inside the delay is answered at once with
// ERR_THROTTLED, before any key is derived. The attempt is counted before deriving (a success
// resets the count), so processes guessing in parallel share one budget.
void KeyStore::reserve_unlock_attempt() {
    using namespace std::chrono;
    const long long now_ms =
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    db::Transaction tx(db_);
    long long failures = 0, last_ms = 0;
    try {
        failures = std::stoll(meta("failed_unlocks").value_or("0"));
        last_ms = std::stoll(meta("last_unlock_attempt_ms").value_or("0"));
    } catch (const std::exception&) {
        // Unreadable counters start again rather than lock the user out for good.
        failures = 0;
        last_ms = 0;
    }
    if (failures >= kThrottleFreeAttempts) {
        const long long delay = kThrottleBaseMs << std::min<long long>(
                                    failures - kThrottleFreeAttempts, kThrottleMaxShift);
        // A clock set back must not stretch the delay beyond its length.
        const long long wait = std::min(delay, last_ms + delay - now_ms);
        if (wait > 0)
            throw Error(Code::Throttled, "too many wrong passphrases: try again in a moment",
                        {{"retry_after_ms", wait}});
    }
    set_meta("failed_unlocks", std::to_string(failures + 1));
    set_meta("last_unlock_attempt_ms", std::to_string(now_ms));
    tx.commit();
}

void KeyStore::unlock(const SecureString& passphrase, std::optional<int> idle_minutes) {
    if (!meta("kdf")) try_auto_unlock();
    reserve_unlock_attempt();
    auto record = key_record();
    SecureString key = sealing::derive_key(passphrase, record->params);
    if (!record->opens_with(key)) throw Error(Code::BadPassphrase, "wrong key store passphrase");

    // Right passphrase. Reset the count, and bring a store of a lower cost or of the first release
    // up to today's parameters, re-sealing every key in the same transaction.
    const bool upgrade =
        record->protect && (record->params.version < 2 || record->params.n < tuning_.scrypt_n);
    std::optional<sealing::KdfParams> params;
    SecureString new_key;
    if (upgrade) {
        params = sealing::KdfParams::fresh(true, tuning_.scrypt_n);
        new_key = sealing::derive_key(passphrase, *params);
    }
    db::Transaction tx(db_);
    const auto now_record = key_record();
    if (now_record->identity() != record->identity()) {
        // Another process changed the passphrase or upgraded meanwhile (rare): check against that.
        SecureString again = sealing::derive_key(passphrase, now_record->params);
        if (!now_record->opens_with(again))
            throw Error(Code::BadPassphrase, "wrong key store passphrase");
        set_meta("failed_unlocks", "0");
        tx.commit();
        key = std::move(again);
        record = now_record;
    } else if (upgrade) {
        set_meta("failed_unlocks", "0");
        reseal_identities(key, new_key);
        write_key_record(new_key, *params, true);
        tx.commit();
        log::info("key store key derivation upgraded");
        key = std::move(new_key);
        record = key_record();
    } else {
        set_meta("failed_unlocks", "0");
        tx.commit();
    }
    if (idle_minutes) {
        std::lock_guard lock(key_mutex_);
        idle_minutes_ = std::clamp(*idle_minutes, 1, 24 * 60);
    }
    hold_key(std::move(key), record->identity());
}

void KeyStore::set_passphrase(const SecureString& new_passphrase,
                              const std::optional<SecureString>& old_passphrase) {
    if (!meta("kdf")) try_auto_unlock();
    const auto record = key_record();
    if (record->protect) {
        if (!old_passphrase)
            throw Error(Code::BadRequest, "old_passphrase is required to change the passphrase",
                        {{"field", "args.old_passphrase"}});
        reserve_unlock_attempt();
    }
    const SecureString old_key =
        sealing::derive_key(record->protect ? *old_passphrase : SecureString(), record->params);
    const bool protect = !new_passphrase.empty();
    const auto params = sealing::KdfParams::fresh(protect, tuning_.scrypt_n);
    SecureString new_key = sealing::derive_key(new_passphrase, params);

    db::Transaction tx(db_);
    // Re-read inside the transaction: another process may have changed it meanwhile.
    const auto now_record = key_record();
    if (!now_record || !now_record->opens_with(old_key)) {
        if (!record->protect)
            throw Error(Code::Storage,
                        "the key store's verifier does not open: the store is damaged");
        throw Error(Code::BadPassphrase, "wrong key store passphrase");
    }
    reseal_identities(old_key, new_key);
    write_key_record(new_key, params, protect);
    set_meta("failed_unlocks", "0");
    tx.commit();
    hold_key(std::move(new_key), key_record()->identity());
}

ossl::PKeyPtr KeyStore::private_key(const std::string& fingerprint, const std::string& sealed) {
    {
        std::lock_guard lock(key_mutex_);
        if (key_is_fresh()) {
            const auto it = decoded_keys_.find(fingerprint);
            if (it != decoded_keys_.end() && it->second.sealed == sealed) {
                last_use_ = std::chrono::steady_clock::now();
                EVP_PKEY_up_ref(it->second.key.get());
                return ossl::PKeyPtr(it->second.key.get());
            }
        }
    }
    const SecureString plain = unseal_key(fingerprint, sealed);
    ossl::PKeyPtr key = stored::parse_pkcs8(plain);
    std::lock_guard lock(key_mutex_);
    if (!kek_.empty()) {
        EVP_PKEY_up_ref(key.get());
        decoded_keys_[fingerprint] = DecodedKey{sealed, ossl::PKeyPtr(key.get())};
    }
    return key;
}

SecureString KeyStore::unseal_key(const std::string& fingerprint, const std::string& sealed) {
    SecureString plain;
    if (sealing::unseal(key_encryption_key(), sealed, fingerprint, plain)) return plain;
    {
        // Opening the store may have just re-sealed every key (try_auto_unlock brings an earlier
        // derivation up to date) after the caller read this one: read it again.
        auto st = db_.prepare("SELECT sealed_key FROM identities WHERE fingerprint = ?");
        st.bind(1, fingerprint);
        if (st.step() && st.blob(0) != sealed &&
            sealing::unseal(key_encryption_key(), st.blob(0), fingerprint, plain))
            return plain;
    }
    const auto record = key_record();
    bool stale = true;
    {
        std::lock_guard lock(key_mutex_);
        stale = !record || kek_record_ != record->identity();
    }
    if (stale) {
        // Another process changed the passphrase since we unlocked.
        lock();
        if (!try_auto_unlock() ||
            !sealing::unseal(key_encryption_key(), sealed, fingerprint, plain))
            throw Error(Code::Locked, "the key store passphrase has changed: unlock again");
        return plain;
    }
    log::warn("the private key of identity " + fingerprint +
              " does not open under the store's key");
    throw Error(Code::Storage,
                "this identity's private key cannot be opened: it is damaged or was sealed under "
                "another passphrase",
                {{"fingerprint", fingerprint}});
}

}  // namespace smime
