// SPDX-License-Identifier: MIT
// The user's identities: importing a PKCS#12 file, listing, activating per address, deleting,
// exporting and backing up, and loading one with its private key for signing or decryption.
#include "keystore/keystore.h"

#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "keystore/sealing.h"
#include "keystore/stored.h"
#include "util/error.h"
#include "util/log.h"
#include "util/text.h"

#include <algorithm>
#include <optional>

namespace smime {

namespace {

// The row of an identity with its certificate: c.der, then `column` of the identities table.
// Throws NotFound if there is no identity with this fingerprint.
db::Statement identity_row(db::Database& db, const std::string& fingerprint, const char* column) {
    auto st = db.prepare(std::string("SELECT c.der, i.") + column +
                         " FROM identities i JOIN certificates c "
                         "ON c.fingerprint = i.fingerprint WHERE i.fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step())
        throw Error(Code::NotFound, "no identity with this fingerprint",
                    {{"fingerprint", fingerprint}});
    return st;
}

}  // namespace

json KeyStore::import_identity(std::string_view pkcs12_der, const SecureString& password) {
    policy_.require_private_key_operations();
    const engine::Identity identity = pkcs12::read(pkcs12_der, password);
    const std::string fp = identity.fingerprint;
    check_identity_policy(identity.certificate.get());
    key_encryption_key();  // ERR_LOCKED before any work; creates the store's parameters on first
                           // use
    const auto info = certinfo::describe(identity.certificate.get(), stored::now());
    db::Transaction tx(db_);
    // Seal under the key the store has now, checked in this write transaction: a key derived
    // before another process changed the passphrase would make this private key unreadable.
    std::string key_der = stored::pkcs8_der(identity.private_key.get());
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
    db_.prepare(
           "INSERT INTO identities(fingerprint, sealed_key, created) VALUES(?, ?, ?) "
           "ON CONFLICT(fingerprint) DO UPDATE SET sealed_key = excluded.sealed_key")
        .bind(1, fp)
        .bind_blob(2, sealed)
        .bind(3, std::int64_t{stored::now()})
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
    const bool usable_now = info.not_after > stored::now() && info.not_before <= stored::now();
    for (const auto& email : info.emails) {
        auto st = db_.prepare(
            "SELECT c.not_after FROM active_identities a JOIN certificates c "
            "ON c.fingerprint = a.fingerprint WHERE a.email = ?");
        st.bind(1, email);
        const bool has_active = st.step();
        const bool active_expired = has_active && st.integer(0) < stored::now();
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
    auto st = identity_row(db_, fingerprint, "created");
    const auto cert = stored::x509_from_der(st.blob(0));
    json out = certinfo::to_json(certinfo::describe(cert.get(), stored::now()));
    out["created"] = certinfo::iso8601(static_cast<std::time_t>(st.integer(1)));
    json active_for = json::array();
    auto act =
        db_.prepare("SELECT email FROM active_identities WHERE fingerprint = ? ORDER BY email");
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
    auto st = db_.prepare(
        "SELECT i.fingerprint FROM identities i JOIN certificates c ON c.fingerprint = "
        "i.fingerprint "
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
    stored::check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    if (!has_identity(fingerprint))
        throw Error(Code::NotFound, "no identity with this fingerprint",
                    {{"fingerprint", fingerprint}});
    auto emails = db_.prepare("SELECT email FROM certificate_emails WHERE fingerprint = ?");
    emails.bind(1, fingerprint);
    std::vector<std::string> list;
    while (emails.step()) list.push_back(emails.text(0));
    if (list.empty())
        throw Error(Code::BadRequest, "this certificate names no e-mail address to be active for");
    for (const auto& email : list)
        db_.prepare("INSERT OR REPLACE INTO active_identities(email, fingerprint) VALUES(?, ?)")
            .bind(1, email)
            .bind(2, fingerprint)
            .run();
    tx.commit();
    return describe_identity(fingerprint);
}

json KeyStore::deactivate(const std::string& fingerprint) {
    stored::check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    describe_identity(fingerprint);  // NotFound if absent
    db_.prepare("DELETE FROM active_identities WHERE fingerprint = ?").bind(1, fingerprint).run();
    tx.commit();
    return describe_identity(fingerprint);
}

void KeyStore::delete_identity(const std::string& fingerprint) {
    stored::check_fingerprint(fingerprint);
    key_encryption_key();  // only with the passphrase
    db::Transaction tx(db_);
    current_key_in_transaction();
    db_.prepare("DELETE FROM identities WHERE fingerprint = ?").bind(1, fingerprint).run();
    if (db_.changes() == 0)
        throw Error(Code::NotFound, "no identity with this fingerprint",
                    {{"fingerprint", fingerprint}});
    {
        std::lock_guard lock(key_mutex_);
        decoded_keys_.erase(fingerprint);
    }
    // Keep the public certificate (mail to the user's own address can still be verified), but
    // only as an ordinary certificate.
    db_.prepare("UPDATE certificates SET source = 'imported' WHERE fingerprint = ?")
        .bind(1, fingerprint)
        .run();
    tx.commit();
    // Freed pages are zeroed (secure_delete); checkpoint so the WAL does not keep the old page.
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

std::string KeyStore::export_certificate(const std::string& fingerprint, bool with_chain) {
    stored::check_fingerprint(fingerprint);
    auto st = db_.prepare("SELECT der FROM certificates WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    if (!st.step())
        throw Error(Code::NotFound, "no certificate with this fingerprint",
                    {{"fingerprint", fingerprint}});
    std::string out = certinfo::pem(stored::x509_from_der(st.blob(0)).get());
    if (with_chain) {
        auto chain = db_.prepare(
            "SELECT c.der FROM identity_chain ic JOIN certificates c ON c.fingerprint = "
            "ic.certificate WHERE ic.identity = ? ORDER BY ic.position");
        chain.bind(1, fingerprint);
        while (chain.step()) out += certinfo::pem(stored::x509_from_der(chain.blob(0)).get());
    }
    return out;
}

engine::Identity KeyStore::load_identity(const std::string& fingerprint, bool with_chain) {
    auto st = identity_row(db_, fingerprint, "sealed_key");
    engine::Identity id;
    id.certificate = stored::x509_from_der(st.blob(0));
    check_identity_policy(id.certificate.get());  // before its key is unsealed
    id.fingerprint = fingerprint;
    id.private_key = private_key(fingerprint, st.blob(1));
    if (!with_chain) return id;
    auto chain = db_.prepare(
        "SELECT c.der FROM identity_chain ic JOIN certificates c ON c.fingerprint = "
        "ic.certificate WHERE ic.identity = ? ORDER BY ic.position");
    chain.bind(1, fingerprint);
    while (chain.step()) id.chain.push_back(stored::x509_from_der(chain.blob(0)));
    return id;
}

void KeyStore::check_identity_policy(X509* certificate) const {
    // At import and at every use: a policy made stricter later also applies to identities stored
    // before it, and a store copied from elsewhere gains nothing.
    const auto info = certinfo::describe(certificate, stored::now());
    policy_.check_identity_addresses(info.emails);
    policy_.check_identity_key(info.key_type, info.key_bits);
}

engine::Identity KeyStore::identity(const std::string& fingerprint) {
    stored::check_fingerprint(fingerprint);
    policy_.require_private_key_operations();
    return load_identity(fingerprint);
}

std::optional<std::string> KeyStore::active_fingerprint(const std::string& email) {
    auto st = db_.prepare("SELECT fingerprint FROM active_identities WHERE email = ?");
    st.bind(1, text::ascii_lower(email));
    if (!st.step()) return std::nullopt;
    return st.text(0);
}

std::optional<engine::Recipient> KeyStore::own_recipient(const std::string& email) {
    auto st = db_.prepare(
        "SELECT c.der FROM active_identities a JOIN certificates c ON c.fingerprint = "
        "a.fingerprint "
        "WHERE a.email = ?");
    st.bind(1, text::ascii_lower(email));
    if (!st.step()) return std::nullopt;
    engine::Recipient r;
    r.address = email;
    r.certificate = stored::x509_from_der(st.blob(0));
    // We read every algorithm we advertise ourselves (SMIMECapabilities of our signatures).
    r.capabilities = {"aes256-gcm", "aes128-gcm", "aes256-cbc",
                      "aes192-cbc", "aes128-cbc", "rsaes-oaep"};
    return r;
}

engine::Identity KeyStore::signing_identity(const std::string& email) {
    auto fp = active_fingerprint(email);
    if (!fp)
        throw Error(Code::NoIdentity,
                    "no active identity for " + email + ": import your certificate and key first",
                    {{"address", email}});
    policy_.require_private_key_operations();
    return load_identity(*fp);
}

std::string KeyStore::backup(const std::string& fingerprint, const SecureString& password) {
    // Exporting a private key is a private-key operation: refused with enabled: false or a
    // malformed policy, as well as with allow_key_backup: false.
    policy_.require_private_key_operations();
    if (!policy_.allow_key_backup)
        throw Error(Code::Policy, "your organisation does not allow key backups",
                    {{"key", "allow_key_backup"}});
    const engine::Identity id = identity(fingerprint);
    const auto info = certinfo::describe(id.certificate.get(), stored::now());
    return pkcs12::write(id, password, info.emails.empty() ? info.subject : info.emails.front());
}

std::vector<engine::Identity> KeyStore::decryption_identities() {
    std::vector<std::string> fps;
    auto st = db_.prepare("SELECT fingerprint FROM identities");
    while (st.step()) fps.push_back(st.text(0));
    {
        // Identities another process deleted take their decoded keys with them here too.
        std::lock_guard lock(key_mutex_);
        std::erase_if(decoded_keys_, [&fps](const auto& entry) {
            return std::find(fps.begin(), fps.end(), entry.first) == fps.end();
        });
    }
    policy_.require_private_key_operations();
    std::vector<engine::Identity> out;
    std::optional<Error> refused;
    for (const auto& fp : fps) {
        try {
            out.push_back(load_identity(fp, false));  // decrypting needs no issuers
        } catch (const Error& e) {
            // Refused by the policy: not offered to the decryption; said so if nothing else can
            // decrypt.
            if (e.code() == Code::Policy) refused = e;
            // Locked: the caller asks for the passphrase.
            else if (e.code() != Code::Storage) throw;
            // One unreadable certificate or key must not stop the others.
            else log::warn("identity " + fp + " left out of decrypting: " + e.what());
        }
    }
    if (out.empty() && refused) throw *refused;
    return out;
}

}  // namespace smime
