// SPDX-License-Identifier: MIT
// Key store operations over SQLite: short IMMEDIATE transactions, sealed private keys, and the
// lookups the compose window needs (recipients.status) served from indexed queries.
#include "keystore/keystore.h"

#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "keystore/schema.h"
#include "keystore/sealing.h"
#include "pki/chain.h"
#include "pki/system_anchors.h"
#include "platform/platform.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace smime {
namespace {

constexpr const char* kVerifierText = "smime-host key store v1";
constexpr const char* kVerifierAad = "verifier";  // version 1 of the parameter record
constexpr const char* kRecordAadPrefix = "smime-host key derivation record\n";

// Unlock throttling: three free attempts, then 250 ms doubling up to 8 s between attempts.
constexpr long long kThrottleFreeAttempts = 3, kThrottleBaseMs = 250, kThrottleMaxShift = 5;

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
    if (const auto it = decoded.find(der); it != decoded.end()) return ossl::up_ref(it->second.get());
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (!cert) throw Error(Code::Storage, "a stored certificate cannot be decoded");
    if (decoded.size() >= kKept) decoded.clear();
    decoded.emplace(der, ossl::up_ref(cert));
    return ossl::X509Ptr(cert);
}

void check_fingerprint(const std::string& fp) {
    if (fp.size() != 64 || fp.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error(Code::BadRequest, "a fingerprint is 64 lowercase hex digits (SHA-256)", {{"field", "args.fingerprint"}});
}

}  // namespace

const Policy& KeyStore::no_policy() {
    static const Policy none;
    return none;
}

KeyStore::KeyStore(const std::filesystem::path& directory, const Policy& policy, KeyStoreTuning tuning)
    : path_((platform::ensure_private_directory(directory), directory / kFileName)),
      policy_(policy),
      tuning_(tuning),
      db_(path_) {
    platform::restrict_file(path_);
    schema::migrate(db_);
    for (const char* suffix : {"-wal", "-shm"}) platform::restrict_file(path_.string() + suffix);
    if (auto minutes = platform::env("SMIME_HOST_LOCK_MINUTES")) {
        try {
            idle_minutes_ = std::max(1, std::stoi(*minutes));
        } catch (const std::exception&) {
            log::warn("SMIME_HOST_LOCK_MINUTES is not a number; using 30");
        }
    }
}

KeyStore::~KeyStore() {
    {
        std::lock_guard lock(key_mutex_);
        stopping_ = true;
        kek_.wipe();
    }
    key_changed_.notify_all();
    if (idle_watchdog_.joinable()) idle_watchdog_.join();
}

std::optional<std::string> KeyStore::meta(const char* key) {
    auto st = db_.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return st.text(0);
}

void KeyStore::set_meta(const char* key, const std::string& value) {
    db_.prepare("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(1, key)
        .bind(2, value)
        .run();
}

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
    std::string verifier_aad() const { return params.version >= 2 ? std::string(kRecordAadPrefix) + kdf : kVerifierAad; }
    bool opens_with(const SecureString& key) const {
        SecureString check;
        return sealing::unseal(key, verifier, verifier_aad(), check) && check.str() == kVerifierText;
    }
};

std::optional<KeyStore::KeyRecord> KeyStore::key_record() {
    auto st = db_.prepare("SELECT key, value FROM meta WHERE key IN ('kdf', 'verifier', 'protected')");
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

void KeyStore::write_key_record(const SecureString& key, const sealing::KdfParams& params, bool protect) {
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
        db_.prepare("UPDATE identities SET sealed_key = ? WHERE fingerprint = ?").bind_blob(1, sealed).bind(2, fp).run();
}

bool KeyStore::is_protected() { return meta("protected").value_or("0") == "1"; }

std::chrono::milliseconds KeyStore::idle_timeout() const {
    if (tuning_.idle_timeout) return *tuning_.idle_timeout;
    return std::chrono::minutes(idle_minutes_);
}

bool KeyStore::holds_key() const noexcept {
    std::lock_guard lock(key_mutex_);
    return !kek_.empty();
}

bool KeyStore::is_unlocked() {
    std::lock_guard lock(key_mutex_);
    // The watchdog wipes on time; this covers the moment before it has run.
    if (!kek_.empty() && std::chrono::steady_clock::now() - last_use_ >= idle_timeout()) kek_.wipe();
    return !kek_.empty();
}

void KeyStore::lock() noexcept {
    std::lock_guard lock(key_mutex_);
    kek_.wipe();
    kek_record_.clear();
}

void KeyStore::hold_key(SecureString key, std::string record) {
    {
        std::lock_guard lock(key_mutex_);
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
            kek_.wipe();
            kek_record_.clear();
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
    const bool costly = record->params.n * record->params.r > sealing::kUnprotectedScryptN * sealing::kUnprotectedScryptR;
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
        if (!kek_.empty() && std::chrono::steady_clock::now() - last_use_ < idle_timeout()) {
            last_use_ = std::chrono::steady_clock::now();
            return kek_;
        }
        kek_.wipe();
    }
    if (!try_auto_unlock()) throw Error(Code::Locked, "the key store is locked: unlock it with your passphrase");
    std::lock_guard lock(key_mutex_);
    return kek_;
}

SecureString KeyStore::current_key_in_transaction() {
    const auto record = key_record();
    if (!record) throw Error(Code::Locked, "the key store is locked: unlock it with your passphrase");
    {
        std::lock_guard lock(key_mutex_);
        const bool fresh = !kek_.empty() && std::chrono::steady_clock::now() - last_use_ < idle_timeout();
        if (fresh && kek_record_ == record->identity()) {
            last_use_ = std::chrono::steady_clock::now();
            return kek_;
        }
        if (fresh) log::info("the key store passphrase changed in another process; locking");
        kek_.wipe();
        kek_record_.clear();
    }
    if (!record->protect && try_auto_unlock(false)) {
        std::lock_guard lock(key_mutex_);
        return kek_;
    }
    throw Error(Code::Locked, "the key store is locked, or its passphrase changed since this process unlocked it: "
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
    return {{"path", path_.string()},
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
    const long long now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
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
        const long long delay = kThrottleBaseMs << std::min<long long>(failures - kThrottleFreeAttempts, kThrottleMaxShift);
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
    const bool upgrade = record->protect && (record->params.version < 2 || record->params.n < tuning_.scrypt_n);
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
        if (!now_record->opens_with(again)) throw Error(Code::BadPassphrase, "wrong key store passphrase");
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

void KeyStore::set_passphrase(const SecureString& new_passphrase, const std::optional<SecureString>& old_passphrase) {
    if (!meta("kdf")) try_auto_unlock();
    const auto record = key_record();
    if (record->protect) {
        if (!old_passphrase) throw Error(Code::BadRequest, "old_passphrase is required to change the passphrase",
                                         {{"field", "args.old_passphrase"}});
        reserve_unlock_attempt();
    }
    const SecureString old_key = sealing::derive_key(record->protect ? *old_passphrase : SecureString(), record->params);
    const bool protect = !new_passphrase.empty();
    const auto params = sealing::KdfParams::fresh(protect, tuning_.scrypt_n);
    SecureString new_key = sealing::derive_key(new_passphrase, params);

    db::Transaction tx(db_);
    // Re-read inside the transaction: another process may have changed it meanwhile.
    const auto now_record = key_record();
    if (!now_record || !now_record->opens_with(old_key)) {
        if (!record->protect) throw Error(Code::Storage, "the key store's verifier does not open: the store is damaged");
        throw Error(Code::BadPassphrase, "wrong key store passphrase");
    }
    reseal_identities(old_key, new_key);
    write_key_record(new_key, params, protect);
    set_meta("failed_unlocks", "0");
    tx.commit();
    hold_key(std::move(new_key), key_record()->identity());
}

SecureString KeyStore::unseal_key(const std::string& fingerprint, const std::string& sealed) {
    SecureString plain;
    if (sealing::unseal(key_encryption_key(), sealed, fingerprint, plain)) return plain;
    {
        // Opening the store may have just re-sealed every key (try_auto_unlock brings an earlier
        // derivation up to date) after the caller read this one: read it again.
        auto st = db_.prepare("SELECT sealed_key FROM identities WHERE fingerprint = ?");
        st.bind(1, fingerprint);
        if (st.step() && st.blob(0) != sealed && sealing::unseal(key_encryption_key(), st.blob(0), fingerprint, plain))
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
        if (!try_auto_unlock() || !sealing::unseal(key_encryption_key(), sealed, fingerprint, plain))
            throw Error(Code::Locked, "the key store passphrase has changed: unlock again");
        return plain;
    }
    log::warn("the private key of identity " + fingerprint + " does not open under the store's key");
    throw Error(Code::Storage, "this identity's private key cannot be opened: it is damaged or was sealed under "
                               "another passphrase",
                {{"fingerprint", fingerprint}});
}

void KeyStore::store_certificate(X509* cert, Source source, bool trust_anchor) {
    const auto info = certinfo::describe(cert, now());
    const std::string der = certinfo::der(cert);
    const std::time_t t = now();
    auto existing = db_.prepare("SELECT source FROM certificates WHERE fingerprint = ?");
    existing.bind(1, info.fingerprint);
    if (existing.step()) {
        const int rank = std::max(source_rank(existing.text(0)), static_cast<int>(source));
        db_.prepare("UPDATE certificates SET source = ?, trust_anchor = max(trust_anchor, ?), last_seen = ? "
                    "WHERE fingerprint = ?")
            .bind(1, source_name(rank))
            .bind(2, std::int64_t{trust_anchor})
            .bind(3, std::int64_t{t})
            .bind(4, info.fingerprint)
            .run();
        return;
    }
    db_.prepare("INSERT INTO certificates(fingerprint, der, subject, issuer, serial, not_before, not_after, key_type, "
                "key_bits, can_encrypt, is_ca, trust_anchor, source, first_seen, last_seen) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind(1, info.fingerprint)
        .bind_blob(2, der)
        .bind(3, info.subject)
        .bind(4, info.issuer)
        .bind(5, info.serial)
        .bind(6, std::int64_t{info.not_before})
        .bind(7, std::int64_t{info.not_after})
        .bind(8, info.key_type)
        .bind(9, std::int64_t{info.key_bits})
        .bind(10, std::int64_t{info.usable_for_encryption && info.email_protection && !info.is_ca})
        .bind(11, std::int64_t{info.is_ca})
        .bind(12, std::int64_t{trust_anchor})
        .bind(13, source_name(static_cast<int>(source)))
        .bind(14, std::int64_t{t})
        .bind(15, std::int64_t{t})
        .run();
    for (const auto& email : info.emails)
        db_.prepare("INSERT OR IGNORE INTO certificate_emails(email, fingerprint) VALUES(?, ?)")
            .bind(1, email)
            .bind(2, info.fingerprint)
            .run();
}

json KeyStore::import_identity(std::string_view pkcs12_der, const SecureString& password) {
    policy_.require_private_key_operations();
    const engine::Identity identity = pkcs12::read(pkcs12_der, password);
    const std::string fp = identity.fingerprint;
    check_identity_policy(identity.certificate.get());
    key_encryption_key();  // ERR_LOCKED before any work; creates the store's parameters on first use
    const auto info = certinfo::describe(identity.certificate.get(), now());
    db::Transaction tx(db_);
    // Seal under the key the store has now, checked in this write transaction: a key derived
    // before another process changed the passphrase would make this private key unreadable.
    std::string key_der = pkcs8_der(identity.private_key.get());
    std::string sealed;
    try {
        sealed = sealing::seal(current_key_in_transaction(), key_der, fp);
    } catch (...) {
        cleanse(key_der);
        throw;
    }
    cleanse(key_der);
    store_certificate(identity.certificate.get(), Source::Identity, false);
    for (const auto& c : identity.chain) store_certificate(c.get(), Source::Chain, false);
    db_.prepare("INSERT INTO identities(fingerprint, sealed_key, created) VALUES(?, ?, ?) "
                "ON CONFLICT(fingerprint) DO UPDATE SET sealed_key = excluded.sealed_key")
        .bind(1, fp)
        .bind_blob(2, sealed)
        .bind(3, std::int64_t{now()})
        .run();
    db_.prepare("DELETE FROM identity_chain WHERE identity = ?").bind(1, fp).run();
    for (std::size_t i = 0; i < identity.chain.size(); ++i)
        db_.prepare("INSERT INTO identity_chain(identity, position, certificate) VALUES(?, ?, ?)")
            .bind(1, fp)
            .bind(2, static_cast<std::int64_t>(i))
            .bind(3, certinfo::fingerprint(identity.chain[i].get()))
            .run();
    // The new identity becomes active for each address that has no usable active identity yet
    // (none, or one that has expired): a renewed certificate takes over from the old one.
    const bool usable_now = info.not_after > now() && info.not_before <= now();
    for (const auto& email : info.emails) {
        auto st = db_.prepare("SELECT c.not_after FROM active_identities a JOIN certificates c "
                              "ON c.fingerprint = a.fingerprint WHERE a.email = ?");
        st.bind(1, email);
        const bool has_active = st.step();
        const bool active_expired = has_active && st.integer(0) < now();
        if (!has_active || (active_expired && usable_now))
            db_.prepare("INSERT OR REPLACE INTO active_identities(email, fingerprint) VALUES(?, ?)")
                .bind(1, email)
                .bind(2, fp)
                .run();
    }
    tx.commit();
    log::info("identity imported: " + fp);
    return describe_identity(fp);
}

json KeyStore::describe_identity(const std::string& fingerprint) {
    auto st = db_.prepare("SELECT c.der, i.created FROM identities i JOIN certificates c "
                          "ON c.fingerprint = i.fingerprint WHERE i.fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step()) throw Error(Code::NotFound, "no identity with this fingerprint", {{"fingerprint", fingerprint}});
    const auto cert = x509_from_der(st.blob(0));
    json out = certinfo::to_json(certinfo::describe(cert.get(), now()));
    out["created"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(1)));
    json active_for = json::array();
    auto act = db_.prepare("SELECT email FROM active_identities WHERE fingerprint = ? ORDER BY email");
    act.bind(1, fingerprint);
    while (act.step()) active_for.push_back(act.text(0));
    out["active"] = !active_for.empty();
    out["active_for"] = active_for;
    auto chain = db_.prepare("SELECT count(*) FROM identity_chain WHERE identity = ?");
    chain.bind(1, fingerprint);
    chain.step();
    out["chain_length"] = chain.integer(0);
    return out;
}

json KeyStore::list_identities() {
    json out = json::array();
    std::vector<std::string> fps;
    auto st = db_.prepare("SELECT i.fingerprint FROM identities i JOIN certificates c ON c.fingerprint = i.fingerprint "
                          "ORDER BY c.not_before DESC");
    while (st.step()) fps.push_back(st.text(0));
    for (const auto& fp : fps) out.push_back(describe_identity(fp));
    return out;
}

bool KeyStore::has_identity(const std::string& fingerprint) {
    auto st = db_.prepare("SELECT 1 FROM identities WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    return st.step();
}

json KeyStore::activate(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    if (!has_identity(fingerprint)) throw Error(Code::NotFound, "no identity with this fingerprint", {{"fingerprint", fingerprint}});
    auto emails = db_.prepare("SELECT email FROM certificate_emails WHERE fingerprint = ?");
    emails.bind(1, fingerprint);
    std::vector<std::string> list;
    while (emails.step()) list.push_back(emails.text(0));
    if (list.empty()) throw Error(Code::BadRequest, "this certificate names no e-mail address to be active for");
    for (const auto& email : list)
        db_.prepare("INSERT OR REPLACE INTO active_identities(email, fingerprint) VALUES(?, ?)")
            .bind(1, email)
            .bind(2, fingerprint)
            .run();
    tx.commit();
    return describe_identity(fingerprint);
}

json KeyStore::deactivate(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    describe_identity(fingerprint);  // NotFound if absent
    db_.prepare("DELETE FROM active_identities WHERE fingerprint = ?").bind(1, fingerprint).run();
    tx.commit();
    return describe_identity(fingerprint);
}

void KeyStore::delete_identity(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
    key_encryption_key();  // only with the passphrase
    db::Transaction tx(db_);
    current_key_in_transaction();
    db_.prepare("DELETE FROM identities WHERE fingerprint = ?").bind(1, fingerprint).run();
    if (db_.changes() == 0) throw Error(Code::NotFound, "no identity with this fingerprint", {{"fingerprint", fingerprint}});
    // Keep the public certificate (mail to the user's own address can still be verified), but
    // only as an ordinary certificate.
    db_.prepare("UPDATE certificates SET source = 'imported' WHERE fingerprint = ?").bind(1, fingerprint).run();
    tx.commit();
    // Freed pages are zeroed (secure_delete); checkpoint so the WAL does not keep the old page.
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

std::string KeyStore::export_certificate(const std::string& fingerprint, bool with_chain) {
    check_fingerprint(fingerprint);
    auto st = db_.prepare("SELECT der FROM certificates WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step()) throw Error(Code::NotFound, "no certificate with this fingerprint", {{"fingerprint", fingerprint}});
    std::string out = certinfo::pem(x509_from_der(st.blob(0)).get());
    if (with_chain) {
        auto chain = db_.prepare("SELECT c.der FROM identity_chain ic JOIN certificates c ON c.fingerprint = "
                                 "ic.certificate WHERE ic.identity = ? ORDER BY ic.position");
        chain.bind(1, fingerprint);
        while (chain.step()) out += certinfo::pem(x509_from_der(chain.blob(0)).get());
    }
    return out;
}

engine::Identity KeyStore::load_identity(const std::string& fingerprint) {
    auto st = db_.prepare("SELECT c.der, i.sealed_key FROM identities i JOIN certificates c "
                          "ON c.fingerprint = i.fingerprint WHERE i.fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step()) throw Error(Code::NotFound, "no identity with this fingerprint", {{"fingerprint", fingerprint}});
    engine::Identity id;
    id.certificate = x509_from_der(st.blob(0));
    id.fingerprint = fingerprint;
    const SecureString plain = unseal_key(fingerprint, st.blob(1));
    id.private_key = parse_pkcs8(plain);
    auto chain = db_.prepare("SELECT c.der FROM identity_chain ic JOIN certificates c ON c.fingerprint = "
                             "ic.certificate WHERE ic.identity = ? ORDER BY ic.position");
    chain.bind(1, fingerprint);
    while (chain.step()) id.chain.push_back(x509_from_der(chain.blob(0)));
    return id;
}

void KeyStore::check_identity_policy(X509* certificate) const {
    // At import and at every use: a policy made stricter later also applies to identities stored
    // before it, and a store copied from elsewhere gains nothing.
    const auto info = certinfo::describe(certificate, now());
    policy_.check_identity_addresses(info.emails);
    policy_.check_identity_key(info.key_type, info.key_bits);
}

void KeyStore::check_identity_policy(const std::string& fingerprint) {
    auto st = db_.prepare("SELECT der FROM certificates WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step()) throw Error(Code::NotFound, "no identity with this fingerprint", {{"fingerprint", fingerprint}});
    check_identity_policy(x509_from_der(st.blob(0)).get());
}

engine::Identity KeyStore::identity(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
    policy_.require_private_key_operations();
    check_identity_policy(fingerprint);
    return load_identity(fingerprint);
}

std::optional<std::string> KeyStore::active_fingerprint(const std::string& email) {
    auto st = db_.prepare("SELECT fingerprint FROM active_identities WHERE email = ?");
    st.bind(1, certinfo::lowercase(email));
    if (!st.step()) return std::nullopt;
    return st.text(0);
}

std::optional<engine::Recipient> KeyStore::own_recipient(const std::string& email) {
    auto st = db_.prepare("SELECT c.der FROM active_identities a JOIN certificates c ON c.fingerprint = a.fingerprint "
                          "WHERE a.email = ?");
    st.bind(1, certinfo::lowercase(email));
    if (!st.step()) return std::nullopt;
    engine::Recipient r;
    r.address = email;
    r.certificate = x509_from_der(st.blob(0));
    // We read every algorithm we advertise ourselves (SMIMECapabilities of our signatures).
    r.capabilities = {"aes256-gcm", "aes128-gcm", "aes256-cbc", "aes192-cbc", "aes128-cbc", "rsaes-oaep"};
    return r;
}

engine::Identity KeyStore::signing_identity(const std::string& email) {
    auto fp = active_fingerprint(email);
    if (!fp)
        throw Error(Code::NoIdentity, "no active identity for " + email + ": import your certificate and key first",
                    {{"address", email}});
    policy_.require_private_key_operations();
    check_identity_policy(*fp);
    return load_identity(*fp);
}

std::string KeyStore::backup(const std::string& fingerprint, const SecureString& password) {
    // Exporting a private key is a private-key operation: refused with enabled: false or a
    // malformed policy, as well as with allow_key_backup: false.
    policy_.require_private_key_operations();
    if (!policy_.allow_key_backup)
        throw Error(Code::Policy, "your organisation does not allow key backups", {{"key", "allow_key_backup"}});
    const engine::Identity id = identity(fingerprint);
    const auto info = certinfo::describe(id.certificate.get(), now());
    return pkcs12::write(id, password, info.emails.empty() ? info.subject : info.emails.front());
}

json KeyStore::import_certificate(std::string_view text, bool trust_anchor) {
    if (trust_anchor && !policy_.allow_user_trust_anchors)
        throw Error(Code::Policy, "your organisation decides which roots are trusted", {{"key", "allow_user_trust_anchors"}});
    if (trust_anchor) key_encryption_key();  // a new root needs the passphrase
    auto certs = certinfo::parse_all(text);
    json out = json::array();
    db::Transaction tx(db_);
    if (trust_anchor) current_key_in_transaction();
    for (const auto& cert : certs) {
        const auto info = certinfo::describe(cert.get(), now());
        if (trust_anchor && !info.is_ca && !info.self_signed)
            throw Error(Code::BadCertificate, "a trust anchor must be a CA certificate",
                        {{"fingerprint", info.fingerprint}});
        store_certificate(cert.get(), Source::Imported, trust_anchor);
        json j = certinfo::to_json(info);
        j["trust_anchor"] = trust_anchor;
        out.push_back(j);
    }
    tx.commit();
    return out;
}

json KeyStore::import_crl(std::string_view text) {
    X509_CRL* raw = nullptr;
    if (text.find("-----BEGIN") != std::string_view::npos) {
        auto bio = ossl::memory_bio(text);
        raw = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
    } else {
        // DER starts with a SEQUENCE tag; anything else is base64 of DER (what the protocol sends).
        std::string der_bytes;
        std::string_view bytes = text;
        if (text.empty() || static_cast<unsigned char>(text[0]) != 0x30) {
            if (!base64::decode_lenient_append(text, der_bytes))
                throw Error(Code::BadCertificate, "the CRL is neither PEM, DER nor base64 DER");
            bytes = der_bytes;
        }
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
        raw = d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size()));
    }
    ERR_clear_error();
    if (!raw) throw Error(Code::BadCertificate, "the CRL cannot be parsed");
    ossl::X509CrlPtr crl(raw);
    unsigned char* buf = nullptr;
    const int n = i2d_X509_CRL(crl.get(), &buf);
    const std::string der(reinterpret_cast<char*>(buf), static_cast<std::size_t>(std::max(n, 0)));
    OPENSSL_free(buf);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    X509_CRL_digest(crl.get(), EVP_sha256(), md, &md_len);
    std::string fp;
    for (unsigned i = 0; i < md_len; ++i) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", md[i]);
        fp += h;
    }
    ossl::BioPtr name(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(name.get(), X509_CRL_get_issuer(crl.get()), 0, XN_FLAG_RFC2253);
    struct tm tm {};
    std::time_t this_update = 0;
    if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl.get()), &tm) == 1) this_update = timegm(&tm);
    db::Transaction tx(db_);
    db_.prepare("INSERT OR REPLACE INTO crls(fingerprint, issuer, der, this_update) VALUES(?, ?, ?, ?)")
        .bind(1, fp)
        .bind(2, ossl::bio_contents(name.get()))
        .bind_blob(3, der)
        .bind(4, std::int64_t{this_update})
        .run();
    tx.commit();
    return {{"fingerprint", fp}, {"issuer", ossl::bio_contents(name.get())}, {"this_update", certinfo::iso8601(this_update)}};
}

json KeyStore::list_certificates(const std::optional<std::string>& email, std::int64_t offset, std::int64_t limit) {
    if (offset < 0) throw Error(Code::BadRequest, "offset must not be negative", {{"field", "args.offset"}});
    if (limit < 1 || limit > kMaxListLimit)
        throw Error(Code::BadRequest, "limit must be between 1 and " + std::to_string(kMaxListLimit),
                    {{"field", "args.limit"}});
    const std::string from = email ? " FROM certificates c JOIN certificate_emails e ON e.fingerprint = c.fingerprint "
                                     "WHERE e.email = ?1"
                                   : " FROM certificates c";
    auto total = db_.prepare("SELECT count(*)" + from);
    if (email) total.bind(1, certinfo::lowercase(*email));
    total.step();
    auto st = db_.prepare(
        "SELECT c.der, c.source, c.trust_anchor, c.capabilities, c.seen_from, c.first_seen, c.last_seen, "
        "EXISTS(SELECT 1 FROM harvested_for h WHERE h.fingerprint = c.fingerprint AND h.preferred_at IS NOT NULL)" +
        from + " ORDER BY c.not_before DESC, c.fingerprint LIMIT ?2 OFFSET ?3");
    if (email) st.bind(1, certinfo::lowercase(*email));
    st.bind(2, limit).bind(3, offset);
    std::optional<pki::TrustMaterial> material;
    json out = json::array();
    while (st.step()) {
        const auto cert = x509_from_der(st.blob(0));
        json j = certinfo::to_json(certinfo::describe(cert.get(), now()));
        j["source"] = st.text(1);
        j["trust_anchor"] = st.integer(2) != 0;
        j["trusted"] = trusted(cert.get(), material);
        j["capabilities"] = st.is_null(3) ? json::array() : json::parse(st.text(3));
        if (!st.is_null(4)) j["seen_from"] = st.text(4);
        j["first_seen"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(5)));
        j["last_seen"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(6)));
        j["preferred_by_sender"] = st.integer(7) != 0;
        out.push_back(std::move(j));
    }
    return {{"certificates", std::move(out)}, {"total", total.integer(0)}};
}

bool KeyStore::trusted(X509* cert, std::optional<pki::TrustMaterial>& material) {
    if (!material) material.emplace(trust_material());
    return pki::validates_to_anchor(cert, *material, now());
}

void KeyStore::delete_certificate(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    if (has_identity(fingerprint))
        throw Error(Code::BadRequest, "this certificate belongs to one of your identities: use identities.delete",
                    {{"fingerprint", fingerprint}});
    auto used = db_.prepare("SELECT 1 FROM identity_chain WHERE certificate = ?");
    used.bind(1, fingerprint);
    if (used.step())
        throw Error(Code::BadRequest, "this certificate is in the chain of one of your identities",
                    {{"fingerprint", fingerprint}});
    db_.prepare("DELETE FROM certificates WHERE fingerprint = ?").bind(1, fingerprint).run();
    if (db_.changes() == 0) throw Error(Code::NotFound, "no certificate with this fingerprint", {{"fingerprint", fingerprint}});
    tx.commit();
}

// The certificate mail to `address` is encrypted to. Only currently valid certificates whose key
// can encrypt are candidates: the user's own and imported ones for every address they name, a
// harvested one only for the addresses a signature carrying it was checked against. Best first:
// imported (the user chose it), then one whose path validates to an anchor now, then one a `good`
// signature for this address carried, then any other harvested one; within each, the one the
// correspondent's good signature preferred (RFC 8551 section 2.5.3), then the newest. So no
// harvested certificate displaces an imported or validating one.
std::optional<KeyStore::Choice> KeyStore::choose_recipient(const std::string& address,
                                                           std::optional<pki::TrustMaterial>& material) {
    static constexpr const char* kSql =
        "SELECT c.der, c.fingerprint, c.source, c.capabilities, coalesce(h.good, 0), h.preferred_at "
        "FROM certificate_emails e JOIN certificates c ON c.fingerprint = e.fingerprint "
        "LEFT JOIN harvested_for h ON h.email = e.email AND h.fingerprint = e.fingerprint "
        "WHERE e.email = ?1 AND c.can_encrypt = 1 AND c.not_before <= ?2 AND c.not_after > ?2 "
        "AND (c.source IN ('identity', 'imported') OR h.fingerprint IS NOT NULL) "
        "ORDER BY c.source IN ('identity', 'imported') DESC, coalesce(h.good, 0) DESC, "
        "h.preferred_at IS NOT NULL DESC, h.preferred_at DESC, c.not_before DESC LIMIT ?3";
    auto st = db_.prepare(kSql);
    st.bind(1, certinfo::lowercase(address)).bind(2, std::int64_t{now()}).bind(3, kMaxCandidates);
    std::optional<Choice> best;
    int best_rank = 0;
    while (st.step()) {
        Choice c;
        c.certificate = x509_from_der(st.blob(0));
        c.fingerprint = st.text(1);
        c.source = st.text(2);
        if (!st.is_null(3)) c.capabilities = json::parse(st.text(3)).get<std::vector<std::string>>();
        const bool imported = c.source == "identity" || c.source == "imported";
        // Rows come best first except that validation is only known here: an imported row wins
        // outright, and a harvested one needs a path check to rank above the ones after it.
        c.trusted = trusted(c.certificate.get(), material);
        const int rank = imported ? 4 : c.trusted ? 3 : st.integer(4) != 0 ? 2 : 1;
        if (rank > best_rank) {
            best_rank = rank;
            best = std::move(c);
        }
        if (best_rank >= 3) break;  // nothing after an imported or the first validating row beats it
    }
    return best;
}

std::optional<engine::Recipient> KeyStore::recipient(const std::string& address) {
    std::optional<pki::TrustMaterial> material;
    auto choice = choose_recipient(address, material);
    if (!choice) return std::nullopt;
    engine::Recipient r;
    r.address = address;
    r.certificate = std::move(choice->certificate);
    r.capabilities = std::move(choice->capabilities);
    return r;
}

json KeyStore::recipients_status(const std::vector<std::string>& addresses) {
    std::optional<pki::TrustMaterial> material;
    json out = json::array();
    for (const auto& address : addresses) {
        json entry = {{"address", address}, {"can_encrypt", false}, {"certificate", nullptr}};
        if (auto choice = choose_recipient(address, material)) {
            json c = certinfo::to_json(certinfo::describe(choice->certificate.get(), now()));
            c["source"] = choice->source;
            c["trusted"] = choice->trusted;
            c["capabilities"] = choice->capabilities;
            entry["can_encrypt"] = true;
            entry["certificate"] = std::move(c);
        }
        out.push_back(std::move(entry));
    }
    return out;
}

std::vector<engine::Identity> KeyStore::decryption_identities() {
    std::vector<std::string> fps;
    auto st = db_.prepare("SELECT fingerprint FROM identities");
    while (st.step()) fps.push_back(st.text(0));
    policy_.require_private_key_operations();
    std::vector<engine::Identity> out;
    std::optional<Error> refused;
    for (const auto& fp : fps) {
        try {
            check_identity_policy(fp);
        } catch (const Error& e) {
            if (e.code() != Code::Policy) throw;
            refused = e;  // not offered to the decryption; said so if nothing else can decrypt
            continue;
        }
        try {
            out.push_back(load_identity(fp));
        } catch (const Error& e) {
            if (e.code() != Code::Storage) throw;  // locked: the caller asks for the passphrase
            // One unreadable key must not stop the others (unseal_key logged which one).
        }
    }
    if (out.empty() && refused) throw *refused;
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::trust_anchors() {
    std::vector<ossl::X509Ptr> out = own_trust_anchors();
    // The system's roots (ca-certificates): most real S/MIME certificates chain to one of them.
    if (policy_.use_system_trust_anchors)
        for (const auto& c : pki::system_bundle()) out.push_back(ossl::up_ref(c.get()));
    return out;
}

// Parsing the system's 150 roots costs more than a small message costs to verify, so the material
// gets a lookup in the system's certificate directory instead: a path reads the root it ends at.
pki::TrustMaterial KeyStore::trust_material() {
    pki::TrustMaterial material(own_trust_anchors(), intermediates(), crls());
    if (policy_.use_system_trust_anchors) pki::add_system_anchors(material.store());
    return material;
}

std::vector<ossl::X509Ptr> KeyStore::own_trust_anchors() {
    std::vector<ossl::X509Ptr> out;
    for (const auto& pem : policy_.trust_anchors) {
        try {
            for (auto& c : certinfo::parse_all(pem)) out.push_back(std::move(c));
        } catch (const Error&) {
            log::warn("a trust anchor in the policy cannot be parsed");
        }
    }
    if (policy_.allow_user_trust_anchors) {
        auto st = db_.prepare("SELECT der FROM certificates WHERE trust_anchor = 1");
        while (st.step()) out.push_back(x509_from_der(st.blob(0)));
    }
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::intermediates() {
    std::vector<ossl::X509Ptr> out;
    auto st = db_.prepare("SELECT der FROM certificates WHERE is_ca = 1 AND trust_anchor = 0");
    while (st.step()) out.push_back(x509_from_der(st.blob(0)));
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::certificates_with_serial(const std::string& serial_hex) {
    std::vector<ossl::X509Ptr> out;
    auto st = db_.prepare("SELECT der FROM certificates WHERE serial = ?");
    st.bind(1, serial_hex);
    while (st.step()) out.push_back(x509_from_der(st.blob(0)));
    return out;
}

std::vector<ossl::X509CrlPtr> KeyStore::crls() {
    std::vector<ossl::X509CrlPtr> out;
    auto st = db_.prepare("SELECT der FROM crls");
    while (st.step()) {
        const std::string der = st.blob(0);
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        if (X509_CRL* crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))) out.emplace_back(crl);
    }
    return out;
}

// Automatic key exchange. What one signature may teach is bounded, and tied to what it was checked
// against: its signer's certificate becomes a candidate only for the addresses it matched (the
// From address), the message's other certificates are kept only as issuers on the signer's path
// (never as candidates), and SMIMECapabilities and SMIMEEncryptionKeyPreference update only the
// signer's own certificates (RFC 8551 section 2.5.3), a certificate other than the signing one
// only when the signature was `good` and that certificate names the matched address.
void KeyStore::harvest(const engine::Harvest& learned) {
    const auto sane = [](X509* cert) {
        const int size = i2d_X509(cert, nullptr);
        return size > 0 && static_cast<std::size_t>(size) <= engine::Harvest::kMaxCertificateBytes;
    };
    if (!learned.certificate || learned.matched_addresses.empty() || !sane(learned.certificate.get())) return;
    try {
        const auto signer = certinfo::describe(learned.certificate.get(), now());
        const auto named = [](const std::vector<std::string>& emails, const std::vector<std::string>& wanted) {
            std::vector<std::string> out;
            for (const auto& w : wanted)
                if (std::find(emails.begin(), emails.end(), certinfo::lowercase(w)) != emails.end())
                    out.push_back(certinfo::lowercase(w));
            return out;
        };
        const auto addresses = named(signer.emails, learned.matched_addresses);
        if (addresses.empty()) return;
        const std::int64_t t = now();
        const std::string capabilities = json(learned.capabilities).dump();
        std::optional<pki::TrustMaterial> material;
        db::Transaction tx(db_);
        std::size_t kept = 0;
        // Issuers join the store only when they validate to an anchor themselves: a look-alike
        // (the real intermediate's name and key identifier, signed by anyone) would otherwise be
        // tried first on every later path and turn the real CA's signatures untrusted.
        for (const auto& c : learned.chain) {
            if (kept == engine::Harvest::kMaxChain) break;
            if (!c || !sane(c.get()) || !(X509_get_extension_flags(c.get()) & EXFLAG_CA)) continue;
            if (!trusted(c.get(), material)) continue;
            store_certificate(c.get(), Source::Chain, false);
            ++kept;
        }
        const auto candidate = [&](X509* cert, const std::vector<std::string>& for_addresses, bool preferred) {
            store_certificate(cert, Source::Harvested, false);
            const std::string fp = certinfo::fingerprint(cert);
            for (const auto& address : for_addresses) {
                auto upsert = db_.prepare(
                    "INSERT INTO harvested_for(email, fingerprint, good, preferred_at, first_seen, last_seen) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(email, fingerprint) DO UPDATE SET "
                    "good = max(good, excluded.good), preferred_at = coalesce(excluded.preferred_at, preferred_at), "
                    "last_seen = excluded.last_seen");
                upsert.bind(1, address).bind(2, fp).bind(3, std::int64_t{learned.good}).bind(5, t);
                if (preferred) upsert.bind(4, t);
                else upsert.bind_null(4);
                upsert.run();
            }
            db_.prepare("UPDATE certificates SET seen_from = ?, last_seen = ? WHERE fingerprint = ?")
                .bind(1, for_addresses.front())
                .bind(2, t)
                .bind(3, fp)
                .run();
            // What the owner advertises changes only through a good signature that says something:
            // a replayed mail without SMIMECapabilities must not take AES-GCM and OAEP away.
            if (learned.good && !learned.capabilities.empty()) {
                db_.prepare("UPDATE certificates SET capabilities = ? WHERE fingerprint = ?")
                    .bind(1, capabilities)
                    .bind(2, fp)
                    .run();
            }
        };
        X509* preferred = learned.preferred_encryption_certificate.get();
        const bool prefers_itself = preferred && X509_cmp(preferred, learned.certificate.get()) == 0;
        candidate(learned.certificate.get(), addresses, prefers_itself && learned.good);
        // The preferred certificate travels outside the signature: only one that validates to an
        // anchor now may stand for the signer's address.
        if (preferred && !prefers_itself && learned.good && sane(preferred) && trusted(preferred, material)) {
            const auto preferred_for = named(certinfo::describe(preferred, now()).emails, addresses);
            if (!preferred_for.empty()) candidate(preferred, preferred_for, true);
        }
        tx.commit();
    } catch (const Error& e) {
        log::warn(std::string("could not keep a harvested certificate: ") + e.what());
    }
}

}  // namespace smime
