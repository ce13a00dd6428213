// SPDX-License-Identifier: MIT
// Schema migrations, recorded in PRAGMA user_version. Never edit a released step: add one.
#include "keystore/schema.h"

#include "keystore/certificate_info.h"
#include "util/error.h"
#include "util/ossl.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <string>
#include <utility>
#include <vector>

namespace smime::schema {
namespace {

// Step N takes the database from version N-1 to N.
const char* const kSteps[] = {
    // 1: first release.
    R"sql(
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- Every certificate the store knows: the user's own, recipients' (imported or harvested from
    -- signed mail), intermediates, and trust anchors.
    CREATE TABLE certificates (
        fingerprint   TEXT PRIMARY KEY,          -- SHA-256 of the DER, lowercase hex
        der           BLOB NOT NULL,
        subject       TEXT NOT NULL,
        issuer        TEXT NOT NULL,
        serial        TEXT NOT NULL,
        not_before    INTEGER NOT NULL,          -- Unix time
        not_after     INTEGER NOT NULL,
        key_type      TEXT NOT NULL,
        key_bits      INTEGER NOT NULL,
        can_encrypt   INTEGER NOT NULL,          -- key and usages allow encrypting mail to it
        is_ca         INTEGER NOT NULL,
        trust_anchor  INTEGER NOT NULL DEFAULT 0,
        source        TEXT NOT NULL,             -- identity | imported | harvested | chain
        capabilities  TEXT,                      -- JSON array from SMIMECapabilities
        preferred_at  INTEGER,                   -- when a sender named it in SMIMEEncryptionKeyPreference
        seen_from     TEXT,                      -- sender address of the last signed mail carrying it
        first_seen    INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL
    );
    CREATE INDEX certificates_by_source ON certificates(source);
    CREATE INDEX certificates_anchors ON certificates(trust_anchor) WHERE trust_anchor = 1;
    CREATE INDEX certificates_ca ON certificates(is_ca) WHERE is_ca = 1;
    CREATE TABLE certificate_emails (
        email       TEXT NOT NULL,               -- lowercase
        fingerprint TEXT NOT NULL REFERENCES certificates(fingerprint) ON DELETE CASCADE,
        PRIMARY KEY (email, fingerprint)
    ) WITHOUT ROWID;
    CREATE INDEX certificate_emails_by_fingerprint ON certificate_emails(fingerprint);
    -- The user's private keys, each sealed with AES-256-GCM under the key-encryption key, with the
    -- certificate fingerprint as associated data.
    CREATE TABLE identities (
        fingerprint TEXT PRIMARY KEY REFERENCES certificates(fingerprint),
        sealed_key  BLOB NOT NULL,
        created     INTEGER NOT NULL
    );
    CREATE TABLE identity_chain (
        identity    TEXT NOT NULL REFERENCES identities(fingerprint) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        certificate TEXT NOT NULL REFERENCES certificates(fingerprint),
        PRIMARY KEY (identity, position)
    ) WITHOUT ROWID;
    -- Exactly one active identity per address (or none).
    CREATE TABLE active_identities (
        email       TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL REFERENCES identities(fingerprint) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE crls (
        fingerprint TEXT PRIMARY KEY,
        issuer      TEXT NOT NULL,
        der         BLOB NOT NULL,
        this_update INTEGER NOT NULL,
        next_update INTEGER
    );
    )sql",
    // 2: automatic key exchange that cannot substitute keys. A harvested certificate is an
    // encryption candidate only for the addresses a signature carrying it was checked against.
    R"sql(
    CREATE TABLE harvested_for (
        email        TEXT NOT NULL,              -- lowercase: the From address the signature matched
        fingerprint  TEXT NOT NULL REFERENCES certificates(fingerprint) ON DELETE CASCADE,
        good         INTEGER NOT NULL DEFAULT 0, -- a signature `good` for this address carried it
        preferred_at INTEGER,                    -- a good signature for this address named it in
                                                 -- SMIMEEncryptionKeyPreference
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        PRIMARY KEY (email, fingerprint)
    ) WITHOUT ROWID;
    CREATE INDEX harvested_for_by_fingerprint ON harvested_for(fingerprint);
    CREATE INDEX certificates_by_not_before ON certificates(not_before);
    -- Release 1 indexed a harvested certificate under every address it names and did not record
    -- verdicts: keep the address of the mail it came from, not as good; forget preferences.
    INSERT OR IGNORE INTO harvested_for(email, fingerprint, good, first_seen, last_seen)
        SELECT e.email, c.fingerprint, 0, c.first_seen, c.last_seen
        FROM certificates c JOIN certificate_emails e ON e.fingerprint = c.fingerprint
        WHERE c.source = 'harvested' AND c.seen_from = e.email;
    UPDATE certificates SET preferred_at = NULL;
    )sql",
    // 3: certificate paths read only the CA certificates and CRLs they need, found by the
    // canonical name hash (certinfo::name_hash) of a subject or a CRL's issuer. The hashes of the
    // rows already there are filled in by fill_name_hashes, in the same transaction.
    R"sql(
    ALTER TABLE certificates ADD COLUMN subject_hash INTEGER;
    CREATE INDEX certificates_by_subject_hash ON certificates(subject_hash);
    ALTER TABLE crls ADD COLUMN issuer_hash INTEGER;
    CREATE INDEX crls_by_issuer_hash ON crls(issuer_hash);
    )sql",
};

// Step 3's hashes for the certificates and CRLs stored before it. A row that cannot be decoded
// keeps no hash, and no path finds it (as no path could use it before).
void fill_name_hashes(db::Database& db) {
    // For each row of `table`: the hash of the name `name_of` finds in its DER (nullptr: none).
    auto fill = [&db](const std::string& table, const char* column, auto name_of) {
        std::vector<std::pair<std::string, std::string>> rows;  // fingerprint, DER
        auto st = db.prepare("SELECT fingerprint, der FROM " + table);
        while (st.step()) rows.emplace_back(st.text(0), st.blob(1));
        for (const auto& [fingerprint, der] : rows) {
            const auto* p = reinterpret_cast<const unsigned char*>(der.data());
            const X509_NAME* name = name_of(p, static_cast<long>(der.size()));
            if (!name) continue;
            db.prepare("UPDATE " + table + " SET " + column + " = ? WHERE fingerprint = ?")
                .bind(1, certinfo::name_hash(name))
                .bind(2, fingerprint)
                .run();
        }
    };
    ossl::X509Ptr cert;
    fill("certificates", "subject_hash", [&cert](const unsigned char* p, long n) {
        cert.reset(d2i_X509(nullptr, &p, n));
        return cert ? X509_get_subject_name(cert.get()) : nullptr;
    });
    ossl::X509CrlPtr crl;
    fill("crls", "issuer_hash", [&crl](const unsigned char* p, long n) {
        crl.reset(d2i_X509_CRL(nullptr, &p, n));
        return crl ? X509_CRL_get_issuer(crl.get()) : nullptr;
    });
    ERR_clear_error();
}

}  // namespace

void migrate(db::Database& db) {
    auto read_version = [&] {
        auto st = db.prepare("PRAGMA user_version");
        st.step();
        return static_cast<int>(st.integer(0));
    };
    if (read_version() >= kCurrentVersion) {
        if (read_version() > kCurrentVersion)
            throw Error(Code::Storage,
                        "the key store was written by a newer smime-host; upgrade it");
        return;
    }
    // Another process may be migrating at the same moment: take the write lock, then look again.
    db::Transaction tx(db);
    for (int version = read_version(); version < kCurrentVersion; ++version) {
        db.exec(kSteps[version]);
        if (version + 1 == 3) fill_name_hashes(db);
        db.exec(("PRAGMA user_version = " + std::to_string(version + 1)).c_str());
    }
    tx.commit();
}

}  // namespace smime::schema
