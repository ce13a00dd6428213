// SPDX-License-Identifier: MIT
// Trust: the anchors, intermediates and CRLs that certificate paths are checked against, and what
// a verified signature teaches the store (automatic key exchange).
#include "keystore/keystore.h"

#include "engine/certificate_cache.h"
#include "keystore/certificate_info.h"
#include "keystore/stored.h"
#include "pki/chain.h"
#include "pki/system_anchors.h"
#include "util/error.h"
#include "util/log.h"
#include "util/text.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <deque>

namespace smime {

bool KeyStore::trusted(X509* cert, std::optional<pki::TrustMaterial>& material) {
    if (!material) material.emplace(trust_material());
    add_paths_from(*material, {cert});
    return pki::validates_to_anchor(cert, *material, stored::now());
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
// The store's own anchors, intermediates and CRLs (harvesting adds every validated issuer of
// every correspondent) stay in the database until add_paths_from finds a path needs them. Only
// the policy's anchors, a few an administrator chose, are read up front.
pki::TrustMaterial KeyStore::trust_material() {
    pki::TrustMaterial material(policy_anchors(), {}, {});
    if (policy_.use_system_trust_anchors) pki::add_system_anchors(material.store());
    return material;
}

// From each certificate, breadth first, the CA certificates named as its issuer, then theirs, and
// so on: stored ones join the material (anchors as anchors, the rest untrusted), ones it holds
// already (a message's) are followed too, and with each issuer come the CRLs it signed. Every
// certificate and CRL the paths could use is then in the material, whatever chain OpenSSL builds.
void KeyStore::add_paths_from(pki::TrustMaterial& material, const std::vector<X509*>& from) {
    if (material.holds_all_stored()) return;
    // Real paths name a few issuers. A message may carry any number of certificates to make the
    // walk longer; past this many names the material takes everything the store has instead (the
    // slow way, but no path loses an issuer or a CRL it needs).
    constexpr int kMaxLookups = 32;
    std::deque<const X509_NAME*> pending;
    for (X509* cert : from)
        if (cert) pending.push_back(X509_get_issuer_name(cert));
    std::vector<ossl::X509Ptr> found;  // keeps the names in `pending` alive
    int lookups = 0;
    while (!pending.empty()) {
        const X509_NAME* name = pending.front();
        pending.pop_front();
        if (!material.first_search(name)) continue;
        if (++lookups > kMaxLookups) {
            add_all_stored(material);
            break;
        }
        const std::int64_t hash = certinfo::name_hash(name);
        // A row without a hash (written by an older release's process still running beside this
        // one) is read for every name: there are none once a process of this release has opened
        // the store, and each is checked by name below.
        auto certs = db_.prepare(
            "SELECT der, trust_anchor FROM certificates WHERE (subject_hash = ? OR subject_hash IS "
            "NULL) AND (is_ca = 1 OR trust_anchor = 1)");
        certs.bind(1, hash);
        while (certs.step()) {
            const bool anchor = certs.integer(1) != 0;
            // Without user anchors (policy), a stored anchor is no certificate a path may use.
            if (anchor && !policy_.allow_user_trust_anchors) continue;
            // A row that does not decode (a damaged file) is no issuer; the rest still are.
            ossl::X509Ptr cert = engine::cached_certificate(certs.blob(0));
            if (!cert || X509_NAME_cmp(X509_get_subject_name(cert.get()), name) != 0) continue;
            if (anchor) material.add_anchor(cert.get());
            else material.add_untrusted(cert.get());
            pending.push_back(X509_get_issuer_name(cert.get()));
            found.push_back(std::move(cert));
        }
        STACK_OF(X509)* held = material.untrusted();
        for (int i = 0; i < sk_X509_num(held); ++i) {
            X509* cert = sk_X509_value(held, i);
            if (X509_NAME_cmp(X509_get_subject_name(cert), name) == 0)
                pending.push_back(X509_get_issuer_name(cert));
        }
        auto crls =
            db_.prepare("SELECT der FROM crls WHERE issuer_hash = ? OR issuer_hash IS NULL");
        crls.bind(1, hash);
        while (crls.step()) {
            const ossl::X509CrlPtr crl = stored::crl_from_der(crls.blob(0));
            if (crl && X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), name) == 0)
                material.add_crl(crl.get());
        }
    }
    ERR_clear_error();
}

void KeyStore::add_all_stored(pki::TrustMaterial& material) {
    if (policy_.allow_user_trust_anchors) {
        auto st = db_.prepare("SELECT der FROM certificates WHERE trust_anchor = 1");
        while (st.step()) material.add_anchor(stored::x509_from_der(st.blob(0)).get());
    }
    for (const auto& cert : intermediates()) material.add_untrusted(cert.get());
    for (const auto& crl : crls()) material.add_crl(crl.get());
    material.set_holds_all_stored();
}

std::vector<ossl::X509Ptr> KeyStore::policy_anchors() {
    std::vector<ossl::X509Ptr> out;
    for (const auto& pem : policy_.trust_anchors) {
        try {
            for (auto& c : certinfo::parse_all(pem)) out.push_back(std::move(c));
        } catch (const Error&) {
            log::warn("a trust anchor in the policy cannot be parsed");
        }
    }
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::own_trust_anchors() {
    std::vector<ossl::X509Ptr> out = policy_anchors();
    if (policy_.allow_user_trust_anchors) {
        auto st = db_.prepare("SELECT der FROM certificates WHERE trust_anchor = 1");
        while (st.step()) out.push_back(stored::x509_from_der(st.blob(0)));
    }
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::intermediates() {
    std::vector<ossl::X509Ptr> out;
    auto st = db_.prepare("SELECT der FROM certificates WHERE is_ca = 1 AND trust_anchor = 0");
    while (st.step()) out.push_back(stored::x509_from_der(st.blob(0)));
    return out;
}

std::vector<ossl::X509Ptr> KeyStore::certificates_with_serial(const std::string& serial_hex) {
    std::vector<ossl::X509Ptr> out;
    auto st = db_.prepare("SELECT der FROM certificates WHERE serial = ?");
    st.bind(1, serial_hex);
    while (st.step()) out.push_back(stored::x509_from_der(st.blob(0)));
    return out;
}

std::vector<ossl::X509CrlPtr> KeyStore::crls() {
    std::vector<ossl::X509CrlPtr> out;
    auto st = db_.prepare("SELECT der FROM crls");
    while (st.step())
        if (auto crl = stored::crl_from_der(st.blob(0))) out.push_back(std::move(crl));
    ERR_clear_error();
    return out;
}

bool KeyStore::known(const std::string& fingerprint) {
    auto st = db_.prepare("SELECT 1 FROM certificates WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    return st.step();
}

// Whether harvesting `learned` for `addresses` would change nothing but timestamps that are still
// fresh (last_seen is kept to within kSeenResolution seconds). Reads only.
bool KeyStore::teaches_nothing(const engine::Harvest& learned,
                               const std::vector<std::string>& addresses, bool preferred,
                               const std::string& capabilities, std::int64_t now) {
    constexpr std::int64_t kSeenResolution = 3600;
    const std::string fp = certinfo::fingerprint(learned.certificate.get());
    auto cert = db_.prepare(
        "SELECT source, seen_from, last_seen, capabilities FROM certificates WHERE fingerprint = "
        "?");
    cert.bind(1, fp);
    if (!cert.step()) return false;
    if (stored::source_rank(cert.text(0)) < static_cast<int>(Source::Harvested)) return false;
    if (cert.is_null(1) || cert.text(1) != addresses.front()) return false;
    if (cert.integer(2) < now - kSeenResolution) return false;
    if (learned.good && !learned.capabilities.empty() &&
        (cert.is_null(3) || cert.text(3) != capabilities))
        return false;
    for (const auto& address : addresses) {
        // A preference counts from its newest statement: it is news unless this certificate's
        // is strictly newer than every other certificate's for the address (a tie in the same
        // second would leave the order to other columns).
        auto row = db_.prepare(
            "SELECT h.good, h.last_seen, h.preferred_at IS NOT NULL AND h.preferred_at > "
            "coalesce((SELECT max(preferred_at) FROM harvested_for WHERE email = ?1 AND "
            "fingerprint <> ?2), -1) "
            "FROM harvested_for h WHERE h.email = ?1 AND h.fingerprint = ?2");
        row.bind(1, address).bind(2, fp);
        if (!row.step()) return false;
        if (row.integer(0) < std::int64_t{learned.good}) return false;
        if (row.integer(1) < now - kSeenResolution) return false;
        if (preferred && row.integer(2) == 0) return false;
    }
    return true;
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
    if (!learned.certificate || learned.matched_addresses.empty() ||
        !sane(learned.certificate.get()))
        return;
    try {
        const auto signer = certinfo::describe(learned.certificate.get(), stored::now());
        const auto named = [](const std::vector<std::string>& emails,
                              const std::vector<std::string>& wanted) {
            std::vector<std::string> out;
            for (const auto& w : wanted)
                if (std::find(emails.begin(), emails.end(), text::ascii_lower(w)) != emails.end())
                    out.push_back(text::ascii_lower(w));
            return out;
        };
        const auto addresses = named(signer.emails, learned.matched_addresses);
        if (addresses.empty()) return;
        const std::int64_t t = stored::now();
        const std::string capabilities = json(learned.capabilities).dump();
        X509* preferred = learned.preferred_encryption_certificate.get();
        const bool prefers_itself =
            preferred && X509_cmp(preferred, learned.certificate.get()) == 0;
        const bool other_preferred = preferred && !prefers_itself && learned.good;
        // Issuers join the store only when they validate to an anchor themselves: a look-alike
        // (the real intermediate's name and key identifier, signed by anyone) would otherwise be
        // tried first on every later path and turn the real CA's signatures untrusted. One the
        // store holds already would only get a newer last_seen.
        std::vector<X509*> new_issuers;
        std::size_t kept = 0;
        std::optional<pki::TrustMaterial> material;
        for (const auto& c : learned.chain) {
            if (kept == engine::Harvest::kMaxChain) break;
            if (!c || !sane(c.get()) || !(X509_get_extension_flags(c.get()) & EXFLAG_CA)) continue;
            if (known(certinfo::fingerprint(c.get()))) {
                ++kept;
                continue;
            }
            if (!trusted(c.get(), material)) continue;
            new_issuers.push_back(c.get());
            ++kept;
        }
        // Most signed mail comes from correspondents the store knows: then nothing is written
        // (a write is a transaction and, on a new write-ahead log, a sync to disk).
        if (new_issuers.empty() && !other_preferred &&
            teaches_nothing(learned, addresses, prefers_itself && learned.good, capabilities, t))
            return;
        db::Transaction tx(db_);
        for (X509* c : new_issuers) store_certificate(c, Source::Chain, false);
        const auto candidate = [&](X509* cert, const std::vector<std::string>& for_addresses,
                                   bool is_preferred) {
            store_certificate(cert, Source::Harvested, false);
            const std::string fp = certinfo::fingerprint(cert);
            for (const auto& address : for_addresses) {
                auto upsert = db_.prepare(
                    "INSERT INTO harvested_for(email, fingerprint, good, preferred_at, first_seen, "
                    "last_seen) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(email, fingerprint) DO UPDATE SET "
                    "good = max(good, excluded.good), preferred_at = "
                    "coalesce(excluded.preferred_at, preferred_at), "
                    "last_seen = excluded.last_seen");
                upsert.bind(1, address).bind(2, fp).bind(3, std::int64_t{learned.good}).bind(5, t);
                if (is_preferred) upsert.bind(4, t);
                else upsert.bind_null(4);
                upsert.run();
            }
            db_.prepare(
                   "UPDATE certificates SET seen_from = ?, last_seen = ? WHERE fingerprint = ?")
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
        candidate(learned.certificate.get(), addresses, prefers_itself && learned.good);
        // The preferred certificate travels outside the signature: only one that validates to an
        // anchor now may stand for the signer's address.
        if (other_preferred && sane(preferred) && trusted(preferred, material)) {
            const auto preferred_for =
                named(certinfo::describe(preferred, stored::now()).emails, addresses);
            if (!preferred_for.empty()) candidate(preferred, preferred_for, true);
        }
        tx.commit();
    } catch (const Error& e) {
        log::warn(std::string("could not keep a harvested certificate: ") + e.what());
    }
}

}  // namespace smime
