// SPDX-License-Identifier: MIT
// Certificates and recipients: storing, importing, listing and deleting certificates and CRLs,
// and choosing the certificate mail to an address is encrypted to (recipients.status).
#include "keystore/keystore.h"

#include "keystore/certificate_info.h"
#include "keystore/stored.h"
#include "pki/chain.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/text.h"

#include <openssl/pem.h>

#include <algorithm>
#include <ctime>

namespace smime {

void KeyStore::store_certificate(X509* cert, Source source, bool trust_anchor) {
    const auto info = certinfo::describe(cert, stored::now());
    const std::string der = certinfo::der(cert);
    const std::time_t t = stored::now();
    auto existing = db_.prepare("SELECT source FROM certificates WHERE fingerprint = ?");
    existing.bind(1, info.fingerprint);
    if (existing.step()) {
        const int rank = std::max(stored::source_rank(existing.text(0)), static_cast<int>(source));
        db_.prepare(
               "UPDATE certificates SET source = ?, trust_anchor = max(trust_anchor, ?), last_seen "
               "= ?, subject_hash = coalesce(subject_hash, ?) WHERE fingerprint = ?")
            .bind(1, stored::source_name(rank))
            .bind(2, std::int64_t{trust_anchor})
            .bind(3, std::int64_t{t})
            .bind(4, certinfo::name_hash(X509_get_subject_name(cert)))
            .bind(5, info.fingerprint)
            .run();
        return;
    }
    db_.prepare(
           "INSERT INTO certificates(fingerprint, der, subject, issuer, serial, not_before, "
           "not_after, key_type, "
           "key_bits, can_encrypt, is_ca, trust_anchor, source, first_seen, last_seen, "
           "subject_hash) "
           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
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
        .bind(13, stored::source_name(static_cast<int>(source)))
        .bind(14, std::int64_t{t})
        .bind(15, std::int64_t{t})
        .bind(16, certinfo::name_hash(X509_get_subject_name(cert)))
        .run();
    for (const auto& email : info.emails)
        db_.prepare("INSERT OR IGNORE INTO certificate_emails(email, fingerprint) VALUES(?, ?)")
            .bind(1, email)
            .bind(2, info.fingerprint)
            .run();
}

json KeyStore::import_certificate(std::string_view text, bool trust_anchor) {
    if (trust_anchor && !policy_.allow_user_trust_anchors)
        throw Error(Code::Policy, "your organisation decides which roots are trusted",
                    {{"key", "allow_user_trust_anchors"}});
    if (trust_anchor) key_encryption_key();  // a new root needs the passphrase
    auto certs = certinfo::parse_all(text);
    json out = json::array();
    db::Transaction tx(db_);
    if (trust_anchor) current_key_in_transaction();
    for (const auto& cert : certs) {
        const auto info = certinfo::describe(cert.get(), stored::now());
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
    const std::string fp = text::hex(md, md_len);
    ossl::BioPtr name(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(name.get(), X509_CRL_get_issuer(crl.get()), 0, XN_FLAG_RFC2253);
    struct tm tm {};
    std::time_t this_update = 0;
    if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl.get()), &tm) == 1) this_update = timegm(&tm);
    db::Transaction tx(db_);
    db_.prepare(
           "INSERT OR REPLACE INTO crls(fingerprint, issuer, der, this_update, issuer_hash) "
           "VALUES(?, ?, ?, ?, ?)")
        .bind(1, fp)
        .bind(2, ossl::bio_contents(name.get()))
        .bind_blob(3, der)
        .bind(4, std::int64_t{this_update})
        .bind(5, certinfo::name_hash(X509_CRL_get_issuer(crl.get())))
        .run();
    tx.commit();
    return {{"fingerprint", fp},
            {"issuer", ossl::bio_contents(name.get())},
            {"this_update", certinfo::iso8601(this_update)}};
}

json KeyStore::list_certificates(const std::optional<std::string>& email, std::int64_t offset,
                                 std::int64_t limit) {
    if (offset < 0)
        throw Error(Code::BadRequest, "offset must not be negative", {{"field", "args.offset"}});
    if (limit < 1 || limit > kMaxListLimit)
        throw Error(Code::BadRequest,
                    "limit must be between 1 and " + std::to_string(kMaxListLimit),
                    {{"field", "args.limit"}});
    const std::string from =
        email ? " FROM certificates c JOIN certificate_emails e ON e.fingerprint = c.fingerprint "
                "WHERE e.email = ?1"
              : " FROM certificates c";
    auto total = db_.prepare("SELECT count(*)" + from);
    if (email) total.bind(1, text::ascii_lower(*email));
    total.step();
    auto st = db_.prepare(
        "SELECT c.der, c.source, c.trust_anchor, c.capabilities, c.seen_from, c.first_seen, "
        "c.last_seen, "
        "EXISTS(SELECT 1 FROM harvested_for h WHERE h.fingerprint = c.fingerprint AND "
        "h.preferred_at IS NOT NULL)" +
        from + " ORDER BY c.not_before DESC, c.fingerprint LIMIT ?2 OFFSET ?3");
    if (email) st.bind(1, text::ascii_lower(*email));
    st.bind(2, limit).bind(3, offset);
    std::optional<pki::TrustMaterial> material;
    json out = json::array();
    while (st.step()) {
        const auto cert = stored::x509_from_der(st.blob(0));
        json j = certinfo::to_json(certinfo::describe(cert.get(), stored::now()));
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

void KeyStore::delete_certificate(const std::string& fingerprint) {
    stored::check_fingerprint(fingerprint);
    db::Transaction tx(db_);
    if (has_identity(fingerprint))
        throw Error(Code::BadRequest,
                    "this certificate belongs to one of your identities: use identities.delete",
                    {{"fingerprint", fingerprint}});
    auto used = db_.prepare("SELECT 1 FROM identity_chain WHERE certificate = ?");
    used.bind(1, fingerprint);
    if (used.step())
        throw Error(Code::BadRequest, "this certificate is in the chain of one of your identities",
                    {{"fingerprint", fingerprint}});
    db_.prepare("DELETE FROM certificates WHERE fingerprint = ?").bind(1, fingerprint).run();
    if (db_.changes() == 0)
        throw Error(Code::NotFound, "no certificate with this fingerprint",
                    {{"fingerprint", fingerprint}});
    tx.commit();
}

// The certificate mail to `address` is encrypted to. Only currently valid certificates whose key
// can encrypt are candidates: the user's own and imported ones for every address they name, a
// harvested one only for the addresses a signature carrying it was checked against. Best first:
// imported (the user chose it), then one whose path validates to an anchor now, then one a `good`
// signature for this address carried, then any other harvested one; within each, the one the
// correspondent's good signature preferred (RFC 8551 section 2.5.3), then the newest; among
// harvested ones that no good signature vouched for, the first seen (whoever can send mail From an
// address can make an untrusted certificate for it, and a newer one must not take over). So no
// harvested certificate displaces an imported or validating one.
std::optional<KeyStore::Choice> KeyStore::choose_recipient(
    const std::string& address, std::optional<pki::TrustMaterial>& material) {
    static constexpr const char* kSql =
        "SELECT c.der, c.fingerprint, c.source, c.capabilities, coalesce(h.good, 0), "
        "h.preferred_at "
        "FROM certificate_emails e JOIN certificates c ON c.fingerprint = e.fingerprint "
        "LEFT JOIN harvested_for h ON h.email = e.email AND h.fingerprint = e.fingerprint "
        "WHERE e.email = ?1 AND c.can_encrypt = 1 AND c.not_before <= ?2 AND c.not_after > ?2 "
        "AND (c.source IN ('identity', 'imported') OR h.fingerprint IS NOT NULL) "
        "ORDER BY c.source IN ('identity', 'imported') DESC, coalesce(h.good, 0) DESC, "
        "h.preferred_at IS NOT NULL DESC, h.preferred_at DESC, "
        "CASE WHEN h.good = 0 THEN h.first_seen END ASC, "
        "CASE WHEN h.good = 0 THEN c.rowid END ASC, c.not_before DESC LIMIT ?3";
    auto st = db_.prepare(kSql);
    st.bind(1, text::ascii_lower(address))
        .bind(2, std::int64_t{stored::now()})
        .bind(3, kMaxCandidates);
    std::optional<Choice> best;
    int best_rank = 0;
    while (st.step()) {
        Choice c;
        c.certificate = stored::x509_from_der(st.blob(0));
        c.fingerprint = st.text(1);
        c.source = st.text(2);
        if (!st.is_null(3))
            c.capabilities = json::parse(st.text(3)).get<std::vector<std::string>>();
        const bool imported = c.source == "identity" || c.source == "imported";
        // Rows come best first except that validation is only known here: an imported row wins
        // outright, and a harvested one needs a path check to rank above the ones after it.
        c.trusted = trusted(c.certificate.get(), material);
        const int rank = imported ? 4 : c.trusted ? 3 : st.integer(4) != 0 ? 2 : 1;
        if (rank > best_rank) {
            best_rank = rank;
            best = std::move(c);
        }
        if (best_rank >= 3)
            break;  // nothing after an imported or the first validating row beats it
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
            json c =
                certinfo::to_json(certinfo::describe(choice->certificate.get(), stored::now()));
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

}  // namespace smime
