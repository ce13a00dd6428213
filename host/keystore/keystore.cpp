// SPDX-License-Identifier: MIT
// Key store operations over SQLite: short IMMEDIATE transactions, sealed private keys, and the
// lookups the compose window needs (recipients.status) served from indexed queries.
#include "keystore/keystore.h"

#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "keystore/schema.h"
#include "keystore/sealing.h"
#include "pki/system_anchors.h"
#include "platform/platform.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/pem.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace smime {
namespace {

constexpr const char* kVerifierText = "smime-host key store v1";
constexpr const char* kVerifierAad = "verifier";

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

KeyStore::KeyStore(const std::filesystem::path& directory, const Policy& policy)
    : path_((platform::ensure_private_directory(directory), directory / kFileName)), policy_(policy), db_(path_) {
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

bool KeyStore::is_protected() { return meta("protected").value_or("0") == "1"; }

bool KeyStore::is_unlocked() {
    if (!kek_.empty() && platform::monotonic_ms() - last_use_ms_ > static_cast<long long>(idle_minutes_) * 60000) {
        log::info("key store locked after idle timeout");
        lock();
    }
    return !kek_.empty();
}

void KeyStore::lock() noexcept { kek_.wipe(); }

// A store without a passphrase is sealed under a key derived from the empty passphrase: it opens
// itself, and says so (protected: false).
bool KeyStore::try_auto_unlock() {
    auto kdf = meta("kdf");
    if (!kdf) {
        // First use: create the store's parameters, unprotected.
        db::Transaction tx(db_);
        if (!meta("kdf")) {
            const auto params = sealing::KdfParams::fresh(false);
            const SecureString key = sealing::derive_key(SecureString(), params);
            set_meta("kdf", params.to_json().dump());
            set_meta("verifier", sealing::seal(key, kVerifierText, kVerifierAad));
            set_meta("protected", "0");
        }
        tx.commit();
        kdf = meta("kdf");
    }
    if (is_protected()) return false;
    const auto params = sealing::KdfParams::from_json(json::parse(*kdf));
    SecureString key = sealing::derive_key(SecureString(), params);
    SecureString check;
    if (!sealing::unseal(key, meta("verifier").value_or(""), kVerifierAad, check))
        throw Error(Code::Storage, "the key store's verifier does not open: the store is damaged");
    kek_ = std::move(key);
    last_use_ms_ = platform::monotonic_ms();
    return true;
}

const SecureString& KeyStore::key_encryption_key() {
    if (!is_unlocked() && !try_auto_unlock())
        throw Error(Code::Locked, "the key store is locked: unlock it with your passphrase");
    last_use_ms_ = platform::monotonic_ms();
    return kek_;
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

void KeyStore::apply_unlock_delay() {
    // Growing delay after repeated failures, remembered in the store so restarting does not reset it.
    const int failures = std::stoi(meta("failed_unlocks").value_or("0"));
    if (failures < 3) return;
    const int shift = std::min(failures - 3, 5);
    const auto delay = std::chrono::milliseconds(250 << shift);  // 250 ms up to 8 s
    std::this_thread::sleep_for(delay);
}

void KeyStore::unlock(const SecureString& passphrase, std::optional<int> idle_minutes) {
    if (!meta("kdf")) try_auto_unlock();
    apply_unlock_delay();
    const auto params = sealing::KdfParams::from_json(json::parse(meta("kdf").value()));
    SecureString key = sealing::derive_key(passphrase, params);
    SecureString check;
    if (!sealing::unseal(key, meta("verifier").value_or(""), kVerifierAad, check)) {
        db::Transaction tx(db_);
        set_meta("failed_unlocks", std::to_string(std::stoi(meta("failed_unlocks").value_or("0")) + 1));
        tx.commit();
        throw Error(Code::BadPassphrase, "wrong key store passphrase");
    }
    if (meta("failed_unlocks").value_or("0") != "0") {
        db::Transaction tx(db_);
        set_meta("failed_unlocks", "0");
        tx.commit();
    }
    kek_ = std::move(key);
    last_use_ms_ = platform::monotonic_ms();
    if (idle_minutes) idle_minutes_ = std::clamp(*idle_minutes, 1, 24 * 60);
}

void KeyStore::set_passphrase(const SecureString& new_passphrase, const std::optional<SecureString>& old_passphrase) {
    if (!meta("kdf")) try_auto_unlock();
    SecureString old_key;
    if (is_protected()) {
        if (!old_passphrase) throw Error(Code::BadRequest, "old_passphrase is required to change the passphrase",
                                         {{"field", "args.old_passphrase"}});
        apply_unlock_delay();
        old_key = sealing::derive_key(*old_passphrase, sealing::KdfParams::from_json(json::parse(*meta("kdf"))));
    } else {
        old_key = sealing::derive_key(SecureString(), sealing::KdfParams::from_json(json::parse(*meta("kdf"))));
    }
    const bool protect = !new_passphrase.empty();
    const auto params = sealing::KdfParams::fresh(protect);
    SecureString new_key = sealing::derive_key(new_passphrase, params);

    db::Transaction tx(db_);
    // Re-read inside the transaction: another process may have changed it meanwhile.
    SecureString check;
    if (!sealing::unseal(old_key, meta("verifier").value_or(""), kVerifierAad, check)) {
        tx.commit();  // nothing written
        db::Transaction count_tx(db_);
        set_meta("failed_unlocks", std::to_string(std::stoi(meta("failed_unlocks").value_or("0")) + 1));
        count_tx.commit();
        throw Error(Code::BadPassphrase, "wrong key store passphrase");
    }
    std::vector<std::pair<std::string, std::string>> resealed;
    {
        auto st = db_.prepare("SELECT fingerprint, sealed_key FROM identities");
        while (st.step()) {
            const std::string fp = st.text(0);
            SecureString plain;
            if (!sealing::unseal(old_key, st.blob(1), fp, plain))
                throw Error(Code::Storage, "a stored private key does not open: the store is damaged");
            resealed.emplace_back(fp, sealing::seal(new_key, plain.str(), fp));
        }
    }
    for (const auto& [fp, sealed] : resealed)
        db_.prepare("UPDATE identities SET sealed_key = ? WHERE fingerprint = ?").bind_blob(1, sealed).bind(2, fp).run();
    set_meta("kdf", params.to_json().dump());
    set_meta("verifier", sealing::seal(new_key, kVerifierText, kVerifierAad));
    set_meta("protected", protect ? "1" : "0");
    set_meta("failed_unlocks", "0");
    tx.commit();
    kek_ = std::move(new_key);
    last_use_ms_ = platform::monotonic_ms();
}

SecureString KeyStore::unseal_key(const std::string& fingerprint, const std::string& sealed) {
    SecureString plain;
    if (!sealing::unseal(key_encryption_key(), sealed, fingerprint, plain)) {
        // Another process changed the passphrase since we unlocked.
        lock();
        if (!try_auto_unlock() || !sealing::unseal(kek_, sealed, fingerprint, plain))
            throw Error(Code::Locked, "the key store passphrase has changed: unlock again");
    }
    return plain;
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
    {
        const auto checked = certinfo::describe(identity.certificate.get(), now());
        policy_.check_identity_addresses(checked.emails);
        // Without a policy file small keys only warn (weak_key); an organisation may refuse them.
        if (policy_.in_force && checked.key_type == "RSA" && checked.key_bits < policy_.min_rsa_bits)
            throw Error(Code::Policy,
                        "your organisation requires RSA keys of at least " + std::to_string(policy_.min_rsa_bits) + " bits",
                        {{"key", "min_rsa_bits"}, {"bits", checked.key_bits}});
    }
    std::string key_der = pkcs8_der(identity.private_key.get());
    std::string sealed;
    try {
        sealed = sealing::seal(key_encryption_key(), key_der, fp);
    } catch (...) {
        cleanse(key_der);
        throw;
    }
    cleanse(key_der);

    const auto info = certinfo::describe(identity.certificate.get(), now());
    db::Transaction tx(db_);
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
    db::Transaction tx(db_);
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

engine::Identity KeyStore::identity(const std::string& fingerprint) {
    check_fingerprint(fingerprint);
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
    return load_identity(*fp);
}

std::string KeyStore::backup(const std::string& fingerprint, const SecureString& password) {
    const engine::Identity id = identity(fingerprint);
    const auto info = certinfo::describe(id.certificate.get(), now());
    return pkcs12::write(id, password, info.emails.empty() ? info.subject : info.emails.front());
}

json KeyStore::import_certificate(std::string_view text, bool trust_anchor) {
    if (trust_anchor && !policy_.allow_user_trust_anchors)
        throw Error(Code::Policy, "your organisation decides which roots are trusted", {{"key", "allow_user_trust_anchors"}});
    auto certs = certinfo::parse_all(text);
    json out = json::array();
    db::Transaction tx(db_);
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
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        raw = d2i_X509_CRL(nullptr, &p, static_cast<long>(text.size()));
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

json KeyStore::list_certificates(const std::optional<std::string>& email) {
    std::string sql =
        "SELECT c.der, c.source, c.trust_anchor, c.capabilities, c.seen_from, c.first_seen, c.last_seen, "
        "c.preferred_at FROM certificates c";
    if (email) sql += " JOIN certificate_emails e ON e.fingerprint = c.fingerprint WHERE e.email = ?";
    sql += " ORDER BY c.not_before DESC";
    auto st = db_.prepare(sql);
    if (email) st.bind(1, certinfo::lowercase(*email));
    json out = json::array();
    while (st.step()) {
        const auto cert = x509_from_der(st.blob(0));
        json j = certinfo::to_json(certinfo::describe(cert.get(), now()));
        j["source"] = st.text(1);
        j["trust_anchor"] = st.integer(2) != 0;
        j["capabilities"] = st.is_null(3) ? json::array() : json::parse(st.text(3));
        if (!st.is_null(4)) j["seen_from"] = st.text(4);
        j["first_seen"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(5)));
        j["last_seen"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(6)));
        j["preferred_by_sender"] = !st.is_null(7);
        out.push_back(std::move(j));
    }
    return out;
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

// One indexed query per address: the newest valid encryption-capable certificate, preferring the
// one the sender named in SMIMEEncryptionKeyPreference (RFC 8551 section 2.5.3).
std::optional<engine::Recipient> KeyStore::recipient(const std::string& address) {
    static constexpr const char* kSql =
        "SELECT c.der, c.capabilities FROM certificate_emails e JOIN certificates c ON c.fingerprint = e.fingerprint "
        "WHERE e.email = ? AND c.can_encrypt = 1 AND c.not_before <= ?2 AND c.not_after > ?2 "
        "ORDER BY (c.preferred_at IS NOT NULL) DESC, c.preferred_at DESC, c.not_before DESC LIMIT 1";
    auto st = db_.prepare(kSql);
    st.bind(1, certinfo::lowercase(address)).bind(2, std::int64_t{now()});
    if (!st.step()) return std::nullopt;
    engine::Recipient r;
    r.address = address;
    r.certificate = x509_from_der(st.blob(0));
    if (!st.is_null(1)) r.capabilities = json::parse(st.text(1)).get<std::vector<std::string>>();
    return r;
}

json KeyStore::recipients_status(const std::vector<std::string>& addresses) {
    static constexpr const char* kSql =
        "SELECT c.fingerprint, c.subject, c.not_after, c.source, c.capabilities FROM certificate_emails e "
        "JOIN certificates c ON c.fingerprint = e.fingerprint "
        "WHERE e.email = ? AND c.can_encrypt = 1 AND c.not_before <= ?2 AND c.not_after > ?2 "
        "ORDER BY (c.preferred_at IS NOT NULL) DESC, c.preferred_at DESC, c.not_before DESC LIMIT 1";
    auto st = db_.prepare(kSql);
    json out = json::array();
    const std::int64_t t = now();
    for (const auto& address : addresses) {
        st.reset();
        st.bind(1, certinfo::lowercase(address)).bind(2, t);
        json entry = {{"address", address}, {"can_encrypt", false}, {"certificate", nullptr}};
        if (st.step()) {
            entry["can_encrypt"] = true;
            entry["certificate"] = {{"fingerprint", st.text(0)},
                                    {"subject", st.text(1)},
                                    {"not_after", certinfo::iso8601(static_cast<std::time_t>(st.integer(2)))},
                                    {"source", st.text(3)},
                                    {"capabilities", st.is_null(4) ? json::array() : json::parse(st.text(4))}};
        }
        out.push_back(std::move(entry));
    }
    return out;
}

std::vector<engine::Identity> KeyStore::decryption_identities() {
    std::vector<std::string> fps;
    auto st = db_.prepare("SELECT fingerprint FROM identities");
    while (st.step()) fps.push_back(st.text(0));
    std::vector<engine::Identity> out;
    for (const auto& fp : fps) out.push_back(load_identity(fp));
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

void KeyStore::harvest(const engine::Harvest& learned) {
    if (!learned.certificate) return;
    try {
        db::Transaction tx(db_);
        store_certificate(learned.certificate.get(), Source::Harvested, false);
        const std::string fp = certinfo::fingerprint(learned.certificate.get());
        for (const auto& c : learned.chain)
            if (X509_cmp(c.get(), learned.certificate.get()) != 0) store_certificate(c.get(), Source::Chain, false);
        const std::int64_t t = now();
        db_.prepare("UPDATE certificates SET capabilities = ?, seen_from = ?, last_seen = ? WHERE fingerprint = ?")
            .bind(1, json(learned.capabilities).dump())
            .bind(2, certinfo::lowercase(learned.sender_address))
            .bind(3, t)
            .bind(4, fp)
            .run();
        if (learned.preferred_encryption_certificate) {
            store_certificate(learned.preferred_encryption_certificate.get(), Source::Harvested, false);
            const std::string pfp = certinfo::fingerprint(learned.preferred_encryption_certificate.get());
            db_.prepare("UPDATE certificates SET preferred_at = ?, capabilities = ?, seen_from = ? WHERE fingerprint = ?")
                .bind(1, t)
                .bind(2, json(learned.capabilities).dump())
                .bind(3, certinfo::lowercase(learned.sender_address))
                .bind(4, pfp)
                .run();
        }
        tx.commit();
    } catch (const Error& e) {
        log::warn(std::string("could not keep a harvested certificate: ") + e.what());
    }
}

}  // namespace smime
