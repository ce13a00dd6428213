// SPDX-License-Identifier: MIT
// Automatic key exchange against an attacker: what a signed mail may teach the key store, and
// which certificate recipients.status and message.encrypt then choose per address.
#include "engine/engine.h"
#include "keystore/certificate_info.h"
#include "keystore/keystore.h"
#include "support/pki.h"

#include <doctest/doctest.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <random>

using namespace smime;
using namespace smime::test;

namespace {

struct Store {
    std::filesystem::path dir;
    std::unique_ptr<KeyStore> store;
    Store() {
        dir = std::filesystem::temp_directory_path() /
              ("smime-kx-" + std::to_string(std::random_device{}()));
        std::filesystem::remove_all(dir);
        store = std::make_unique<KeyStore>(dir / "store");
    }
    ~Store() {
        store.reset();
        std::filesystem::remove_all(dir);
    }
    KeyStore* operator->() { return store.get(); }
    KeyStore& operator*() { return *store; }
};

const CertSpec kPerson{
    "", {}, false, -1, 365, "digitalSignature,keyEncipherment", "emailProtection"};

CertSpec person(const std::string& name, const std::string& email, long valid_from_days = -1) {
    CertSpec spec = kPerson;
    spec.common_name = name;
    spec.emails = {email};
    spec.valid_from_days = valid_from_days;
    return spec;
}

// What verify_signed hands over for one signature.
engine::Harvest signature(X509* signer, const std::string& from, bool from_matched, bool good) {
    engine::Harvest h;
    h.certificate = ossl::up_ref(signer);
    h.sender_address = from;
    if (from_matched) h.matched_addresses = {from};
    h.good = good;
    return h;
}

json chosen(KeyStore& store, const std::string& address) {
    return store.recipients_status({address})[0];
}

std::string chosen_fingerprint(KeyStore& store, const std::string& address) {
    const json entry = chosen(store, address);
    return entry["certificate"].is_null() ? std::string()
                                          : entry["certificate"]["fingerprint"].get<std::string>();
}

std::string fp(X509* cert) { return certinfo::fingerprint(cert); }

void run_sql(const std::filesystem::path& file, std::initializer_list<const char*> statements) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    for (const char* sql : statements) {
        INFO(sql);
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    sqlite3_close(db);
}

// The store as release 2 had it: no name hashes.
void undo_step_3(const std::filesystem::path& file) {
    run_sql(file, {"DROP INDEX certificates_by_subject_hash", "DROP INDEX crls_by_issuer_hash",
                   "ALTER TABLE certificates DROP COLUMN subject_hash",
                   "ALTER TABLE crls DROP COLUMN issuer_hash", "PRAGMA user_version = 2"});
}

// A CRL of `issuer` (signed with `key`) listing `revoked`, if any.
std::string crl_der(X509* issuer, EVP_PKEY* key, X509* revoked) {
    ossl::X509CrlPtr crl(X509_CRL_new());
    REQUIRE(crl);
    X509_CRL_set_version(crl.get(), 1);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
    const std::unique_ptr<ASN1_TIME, void (*)(ASN1_TIME*)> now(
        ASN1_TIME_set(nullptr, std::time(nullptr) - 60), ASN1_TIME_free),
        next(ASN1_TIME_set(nullptr, std::time(nullptr) + 86400), ASN1_TIME_free);
    X509_CRL_set1_lastUpdate(crl.get(), now.get());
    X509_CRL_set1_nextUpdate(crl.get(), next.get());
    if (revoked) {
        X509_REVOKED* entry = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(revoked));
        X509_REVOKED_set_revocationDate(entry, now.get());
        X509_CRL_add0_revoked(crl.get(), entry);
    }
    REQUIRE(X509_CRL_sign(crl.get(), key, EVP_sha256()) > 0);
    unsigned char* raw = nullptr;
    const int n = i2d_X509_CRL(crl.get(), &raw);
    REQUIRE(n > 0);
    std::string der(reinterpret_cast<char*>(raw), static_cast<std::size_t>(n));
    OPENSSL_free(raw);
    return der;
}

}  // namespace

TEST_CASE(
    "a mail from Mallory carrying a look-alike of Bob's certificate teaches nothing about Bob") {
    Store store;
    const auto pki = TestPki::make("mallory@example.org", "carol@example.org");
    auto key = make_rsa_key(2048);
    auto bob_lookalike =
        make_cert(key.get(), person("Bob", "bob@example.org"));  // self-signed, Mallory's key

    engine::Harvest mail = signature(pki.rsa_cert.get(), "mallory@example.org", true, true);
    mail.chain.push_back(ossl::up_ref(bob_lookalike.get()));
    store->harvest(mail);
    CHECK(chosen(*store, "bob@example.org")["can_encrypt"] == false);
    auto recipient = store->recipient("bob@example.org");
    CHECK_FALSE(recipient.has_value());
    // Mallory herself is now known, for her own address only.
    CHECK(chosen_fingerprint(*store, "mallory@example.org") == fp(pki.rsa_cert.get()));

    // With Bob's genuine certificate imported, the look-alike (newer, carried again) does not win.
    auto bob_key = make_rsa_key(2048);
    auto bob = make_cert(bob_key.get(), person("Bob", "bob@example.org", -30), pki.ca.get(),
                         pki.ca_key.get());
    store->import_certificate(pem_of(bob.get()), false);
    store->harvest(mail);
    CHECK(chosen_fingerprint(*store, "bob@example.org") == fp(bob.get()));
}

TEST_CASE("a signature whose From is not among the signer's addresses makes no candidate") {
    Store store;
    auto key = make_rsa_key(2048);
    auto bob_lookalike = make_cert(key.get(), person("Bob", "bob@example.org"));
    // Mallory's mail is From mallory@, signed with a certificate that names bob@.
    store->harvest(signature(bob_lookalike.get(), "mallory@example.org", false, false));
    CHECK(chosen(*store, "bob@example.org")["can_encrypt"] == false);
    CHECK(chosen(*store, "mallory@example.org")["can_encrypt"] == false);
}

TEST_CASE(
    "a self-signed certificate for bob@ in mail From bob@ never displaces an imported or "
    "validating one") {
    Store store;
    const auto pki = TestPki::make("alice@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    auto bob_key = make_rsa_key(2048);
    auto genuine = make_cert(bob_key.get(), person("Bob", "bob@example.org", -30), pki.ca.get(),
                             pki.ca_key.get());
    auto mallory_key = make_rsa_key(2048);
    auto forged =
        make_cert(mallory_key.get(), person("Bob", "bob@example.org", -1));  // newer, self-signed

    SUBCASE("the genuine one was imported") {
        store->import_certificate(pem_of(genuine.get()), false);
        store->harvest(signature(forged.get(), "bob@example.org", true, false));
        const json entry = chosen(*store, "bob@example.org");
        CHECK(entry["certificate"]["fingerprint"] == fp(genuine.get()));
        CHECK(entry["certificate"]["source"] == "imported");
    }
    SUBCASE("the genuine one was harvested from Bob's good signature") {
        store->harvest(signature(genuine.get(), "bob@example.org", true, true));
        store->harvest(signature(forged.get(), "bob@example.org", true, false));
        CHECK(chosen_fingerprint(*store, "bob@example.org") == fp(genuine.get()));
        const auto r = store->recipient("bob@example.org");
        REQUIRE(r.has_value());
        CHECK(X509_cmp(r->certificate.get(), genuine.get()) == 0);
    }
    SUBCASE("the genuine one was harvested while its root was unknown, and validates now") {
        Store fresh;
        fresh->harvest(signature(genuine.get(), "bob@example.org", true, false));  // untrusted then
        fresh->harvest(signature(forged.get(), "bob@example.org", true, false));
        fresh->import_certificate(pem_of(pki.ca.get()), true);
        CHECK(chosen_fingerprint(*fresh, "bob@example.org") == fp(genuine.get()));
    }
    SUBCASE("between untrusted ones, the first seen stays: a newer forgery does not take over") {
        Store fresh;  // no anchors: Bob's genuine certificate is as untrusted as the forgery
        auto bob_self_key = make_rsa_key(2048);
        auto bob_self = make_cert(bob_self_key.get(), person("Bob", "bob@example.org", -60));
        fresh->harvest(signature(bob_self.get(), "bob@example.org", true, false));
        fresh->harvest(signature(forged.get(), "bob@example.org", true, false));
        CHECK(chosen_fingerprint(*fresh, "bob@example.org") == fp(bob_self.get()));
        const auto r = fresh->recipient("bob@example.org");
        REQUIRE(r.has_value());
        CHECK(X509_cmp(r->certificate.get(), bob_self.get()) == 0);
    }
    SUBCASE("a good signature beats an untrusted one") {
        Store fresh;  // no anchors at all
        auto other_key = make_rsa_key(2048);
        auto older = make_cert(other_key.get(), person("Bob", "bob@example.org", -60));
        fresh->harvest(signature(older.get(), "bob@example.org", true, true));
        fresh->harvest(signature(forged.get(), "bob@example.org", true, false));
        CHECK(chosen_fingerprint(*fresh, "bob@example.org") == fp(older.get()));
    }
}

TEST_CASE(
    "SMIMEEncryptionKeyPreference naming another party's certificate changes nothing for that "
    "party") {
    Store store;
    const auto pki = TestPki::make("mallory@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    auto bob_key = make_rsa_key(2048);
    auto bob_old = make_cert(bob_key.get(), person("Bob", "bob@example.org", -60), pki.ca.get(),
                             pki.ca_key.get());
    auto bob_new = make_cert(bob_key.get(), person("Bob", "bob@example.org", -10), pki.ca.get(),
                             pki.ca_key.get());
    store->import_certificate(pem_of(bob_old.get()), false);
    store->import_certificate(pem_of(bob_new.get()), false);
    // Bob's own good mail advertises AES-GCM and OAEP for his certificate.
    engine::Harvest from_bob = signature(bob_new.get(), "bob@example.org", true, true);
    from_bob.capabilities = {"aes256-gcm", "aes256-cbc", "rsaes-oaep"};
    store->harvest(from_bob);
    REQUIRE(chosen(*store, "bob@example.org")["certificate"]["capabilities"] ==
            json::array({"aes256-gcm", "aes256-cbc", "rsaes-oaep"}));

    SUBCASE("Mallory's good signature names Bob's old certificate, with CBC only") {
        engine::Harvest mail = signature(pki.rsa_cert.get(), "mallory@example.org", true, true);
        mail.preferred_encryption_certificate = ossl::up_ref(bob_old.get());
        mail.capabilities = {"aes128-cbc"};
        store->harvest(mail);
    }
    SUBCASE("a forged, untrusted signature From bob@ names Bob's old certificate, with CBC only") {
        auto mallory_key = make_rsa_key(2048);
        auto forged = make_cert(mallory_key.get(), person("Bob", "bob@example.org", -1));
        engine::Harvest mail = signature(forged.get(), "bob@example.org", true, false);
        mail.preferred_encryption_certificate = ossl::up_ref(bob_old.get());
        mail.capabilities = {"aes128-cbc"};
        store->harvest(mail);
    }
    const json entry = chosen(*store, "bob@example.org");
    CHECK(entry["certificate"]["fingerprint"] == fp(bob_new.get()));
    CHECK(entry["certificate"]["capabilities"] ==
          json::array({"aes256-gcm", "aes256-cbc", "rsaes-oaep"}));
    const auto r = store->recipient("bob@example.org");
    REQUIRE(r.has_value());
    CHECK(r->capabilities == std::vector<std::string>{"aes256-gcm", "aes256-cbc", "rsaes-oaep"});
    const json listed = store->list_certificates(std::string("bob@example.org"));
    for (const auto& c : listed["certificates"]) {
        CHECK(c["preferred_by_sender"] == false);
        if (c["fingerprint"] == fp(bob_old.get())) CHECK(c["capabilities"].empty());
    }
}

TEST_CASE(
    "Bob's own good signature may name his preferred encryption certificate (RFC 8551 section "
    "2.5.3)") {
    Store store;
    const auto pki = TestPki::make("alice@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    auto bob_key = make_rsa_key(2048);
    auto signing = make_cert(bob_key.get(), person("Bob", "bob@example.org", -5), pki.ca.get(),
                             pki.ca_key.get());
    auto enc_key = make_rsa_key(2048);
    auto encryption = make_cert(enc_key.get(), person("Bob", "bob@example.org", -20), pki.ca.get(),
                                pki.ca_key.get());
    engine::Harvest mail = signature(signing.get(), "bob@example.org", true, true);
    mail.preferred_encryption_certificate = ossl::up_ref(encryption.get());
    mail.capabilities = {"aes256-gcm", "rsaes-oaep"};
    store->harvest(mail);
    const json entry = chosen(*store, "bob@example.org");
    CHECK(entry["certificate"]["fingerprint"] == fp(encryption.get()));
    CHECK(entry["certificate"]["capabilities"] == json::array({"aes256-gcm", "rsaes-oaep"}));
}

TEST_CASE("one message adds a handful of certificates at most, each of sane size") {
    Store store;
    const auto pki = TestPki::make("alice@example.org", "carol@example.org");
    auto key = make_ec_key("P-256");
    engine::Harvest mail = signature(pki.rsa_cert.get(), "alice@example.org", true, true);
    for (int i = 0; i < 2000; ++i) {
        CertSpec spec{"Filler " + std::to_string(i),
                      {"filler" + std::to_string(i) + "@example.org"},
                      i % 2 == 0,
                      -1,
                      365};
        mail.chain.push_back(make_cert(key.get(), spec, pki.ca.get(), pki.ca_key.get()));
    }
    store->harvest(mail);
    const std::int64_t stored = store->status()["counts"]["certificates"].get<std::int64_t>();
    CHECK(stored >= 1);
    CHECK(stored <= static_cast<std::int64_t>(1 + engine::Harvest::kMaxChain));

    // A signer certificate of absurd size is not kept.
    CertSpec huge = person("Huge", "huge@example.org");
    for (int i = 0; i < 1500; ++i)
        huge.emails.push_back("alias" + std::to_string(i) + "@example.org");
    auto big = make_cert(key.get(), huge, pki.ca.get(), pki.ca_key.get());
    REQUIRE(certinfo::der(big.get()).size() > engine::Harvest::kMaxCertificateBytes);
    store->harvest(signature(big.get(), "huge@example.org", true, true));
    CHECK(store->status()["counts"]["certificates"].get<std::int64_t>() == stored);
}

TEST_CASE(
    "a store of the first release keeps a harvested certificate only for the address it came "
    "from") {
    Store store;
    auto key = make_rsa_key(2048);
    CertSpec spec = person("Bob", "bob@example.org");
    spec.emails.push_back("carol@example.org");
    auto cert = make_cert(key.get(), spec);
    store->harvest(signature(cert.get(), "bob@example.org", true, false));
    const auto file = store->path();
    store.store.reset();
    // Undo schema steps 3 and 2 as release 1 had the store: every address indexed, a preference
    // set.
    undo_step_3(file);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    for (const char* sql : {"DROP TABLE harvested_for", "DROP INDEX certificates_by_not_before",
                            "UPDATE certificates SET preferred_at = 1", "PRAGMA user_version = 1"})
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    store.store = std::make_unique<KeyStore>(file.parent_path());
    CHECK(store->status()["schema_version"] == 3);
    const json bob = chosen(*store, "bob@example.org");
    CHECK(bob["can_encrypt"] == true);
    CHECK(bob["certificate"]["trusted"] == false);
    CHECK(chosen(*store, "carol@example.org")["can_encrypt"] == false);
    CHECK(store->list_certificates(std::nullopt)["certificates"][0]["preferred_by_sender"] ==
          false);
}

// Bob, whose certificate an intermediate issued under the test root, which the store trusts.
struct BobUnderIntermediate {
    TestPki pki = TestPki::make("bob@example.org", "carol@example.org");
    ossl::PKeyPtr inter_key = make_rsa_key(2048);
    ossl::X509Ptr inter = make_cert(inter_key.get(), {"Example Intermediate", {}, true, -1, 3650},
                                    pki.ca.get(), pki.ca_key.get());
    ossl::PKeyPtr bob_key = make_rsa_key(2048);
    ossl::X509Ptr bob =
        make_cert(bob_key.get(), person("Bob", "bob@example.org"), inter.get(), inter_key.get());

    explicit BobUnderIntermediate(KeyStore& store) {
        store.import_certificate(pem_of(pki.ca.get()), true);
    }
    // What a good mail from Bob that carried the intermediate teaches the store.
    engine::Harvest good_mail() const {
        engine::Harvest mail = signature(bob.get(), "bob@example.org", true, true);
        mail.chain.push_back(ossl::up_ref(inter.get()));
        return mail;
    }
    // The verdict on a mail Bob signed that carries `carried`, in this order.
    std::string verdict(KeyStore& store, const std::vector<X509*>& carried) const {
        engine::Identity id;
        id.certificate = ossl::up_ref(bob.get());
        EVP_PKEY_up_ref(bob_key.get());
        id.private_key = ossl::PKeyPtr(bob_key.get());
        id.fingerprint = fp(bob.get());
        for (X509* c : carried) id.chain.push_back(ossl::up_ref(c));
        const std::string text =
            "From: Bob <bob@example.org>\r\nTo: carol@example.org\r\nSubject: hi\r\n"
            "Content-Type: text/plain\r\n\r\nHello.\r\n";
        const auto opened = engine::verify(engine::sign(text, id).str(), store);
        REQUIRE(opened.status.signatures.size() == 1);
        return std::string(engine::verdict_name(opened.status.signatures[0].verdict));
    }
};

TEST_CASE("a path reads the stored CA certificates and CRLs it needs, by name, and no others") {
    Store store;
    const BobUnderIntermediate bob(*store);
    store->harvest(bob.good_mail());
    // Bob's path needs the stored intermediate (his mail carried it; the next one may not).
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == true);

    // A stored CA certificate no path leads to is not read at all: were it read, its broken DER
    // would fail the request.
    const auto file = store->path();
    store.store.reset();
    const std::string broken =
        "INSERT INTO certificates(fingerprint, der, subject, issuer, serial, not_before, "
        "not_after, key_type, key_bits, can_encrypt, is_ca, trust_anchor, source, first_seen, "
        "last_seen, subject_hash) VALUES('" +
        std::string(64, 'e') +
        "', x'3003020100', 'CN=Broken', 'CN=Broken', '01', 0, 4102444800, 'rsa', 2048, 0, 1, 0, "
        "'chain', 0, 0, 12345)";
    run_sql(file, {broken.c_str()});
    store.store = std::make_unique<KeyStore>(file.parent_path());
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == true);

    // The intermediate's CRL is found by its issuer: it revokes Bob, and his path fails.
    store->import_crl(crl_der(bob.inter.get(), bob.inter_key.get(), bob.bob.get()));
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == false);

    // A store of release 2, without name hashes, gets them when it opens: the paths are the same.
    store.store.reset();
    undo_step_3(file);
    store.store = std::make_unique<KeyStore>(file.parent_path());
    CHECK(store->status()["schema_version"] == 3);
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == false);  // revoked
    run_sql(file, {"DELETE FROM crls"});
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == true);
}

TEST_CASE("a signature verifies through a stored intermediate its message leaves out") {
    Store store;
    const BobUnderIntermediate bob(*store);
    CHECK(bob.verdict(*store, {}) == "untrusted");  // the store does not know the intermediate yet
    // A mail that carried it (and validated) taught the store; later mail needs not carry it.
    store->harvest(bob.good_mail());
    CHECK(bob.verdict(*store, {}) == "good");
    // Revoked by the intermediate's CRL, found by its issuer name.
    store->import_crl(crl_der(bob.inter.get(), bob.inter_key.get(), bob.bob.get()));
    CHECK(bob.verdict(*store, {}) == "revoked");
}

TEST_CASE("certificates a message adds cannot hide a stored issuer or CRL from the signer's path") {
    Store store;
    const BobUnderIntermediate bob(*store);
    // Junk any sender (or anyone on the way) can add: self-signed CAs of many names, and
    // look-alikes of the intermediate, each under a root of its own name.
    auto junk_key = make_rsa_key(2048);
    std::vector<ossl::X509Ptr> junk, look_alikes;
    for (int i = 0; i < 40; ++i) {
        CertSpec spec{"Junk CA " + std::to_string(i), {}, true, -1, 3650};
        for (int e = 0; e < 40; ++e)
            spec.emails.push_back("padding" + std::to_string(e) + "@junk.example");
        junk.push_back(make_cert(junk_key.get(), spec));
        look_alikes.push_back(make_cert(junk_key.get(),
                                        {"Example Intermediate", {}, true, -1, 3650},
                                        junk.back().get(), junk_key.get()));
    }
    // The intermediate's CRL, stored, revokes Bob.
    store->import_crl(crl_der(bob.inter.get(), bob.inter_key.get(), bob.bob.get()));
    for (const std::size_t n : {std::size_t{0}, std::size_t{31}, std::size_t{40}}) {
        INFO(n << " junk CA certificates");
        std::vector<X509*> carried = {bob.inter.get()};
        for (std::size_t i = 0; i < n; ++i) carried.push_back(junk[i].get());
        CHECK(bob.verdict(*store, carried) == "revoked");
    }
    // Look-alikes first, the real intermediate last: more names than a path has, so the whole
    // store joins, and the stored root is still found.
    run_sql(store->path(), {"DELETE FROM crls"});
    std::vector<X509*> carried;
    for (const auto& c : look_alikes) carried.push_back(c.get());
    carried.push_back(bob.inter.get());
    CHECK(bob.verdict(*store, carried) == "good");
    store->import_crl(crl_der(bob.inter.get(), bob.inter_key.get(), bob.bob.get()));
    CHECK(bob.verdict(*store, carried) == "revoked");
}

TEST_CASE("issuers a mail carries join the store only when they validate to an anchor") {
    Store store;
    const auto pki = TestPki::make("mallory@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    auto inter_key = make_rsa_key(2048);
    auto inter = make_cert(inter_key.get(), {"Example Intermediate", {}, true, -1, 3650},
                           pki.ca.get(), pki.ca_key.get());
    // The look-alike: the intermediate's name and CA flag under a root of the same name, anyone's
    // key.
    auto fake_root_key = make_rsa_key(2048);
    auto fake_root = make_cert(fake_root_key.get(), {"Test Root CA", {}, true, -1, 3650});
    auto fake_key = make_rsa_key(2048);
    auto fake_inter = make_cert(fake_key.get(), {"Example Intermediate", {}, true, -1, 3650},
                                fake_root.get(), fake_root_key.get());
    auto mallory_key = make_rsa_key(2048);
    auto mallory = make_cert(mallory_key.get(), person("Mallory", "mallory@example.org"),
                             fake_inter.get(), fake_key.get());

    engine::Harvest mail = signature(mallory.get(), "mallory@example.org", true, false);
    mail.chain.push_back(ossl::up_ref(fake_inter.get()));
    store->harvest(mail);
    const auto known = [&](X509* cert) {
        for (const auto& c : store->intermediates())
            if (X509_cmp(c.get(), cert) == 0) return true;
        return false;
    };
    CHECK_FALSE(known(fake_inter.get()));

    // The genuine intermediate, carried by a good mail, is kept for later paths.
    auto bob_key = make_rsa_key(2048);
    auto bob =
        make_cert(bob_key.get(), person("Bob", "bob@example.org"), inter.get(), inter_key.get());
    engine::Harvest genuine = signature(bob.get(), "bob@example.org", true, true);
    genuine.chain.push_back(ossl::up_ref(inter.get()));
    store->harvest(genuine);
    CHECK(known(inter.get()));
    CHECK(chosen(*store, "bob@example.org")["certificate"]["trusted"] == true);
}

TEST_CASE(
    "an encryption key preference counts only for a certificate that validates to an anchor") {
    Store store;
    const auto pki = TestPki::make("bob@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    // Bob signs with a signing-only certificate and prefers a separate encryption certificate.
    auto sign_key = make_rsa_key(2048);
    CertSpec sign_spec = person("Bob (signing)", "bob@example.org");
    sign_spec.key_usage = "digitalSignature";
    auto bob_sign = make_cert(sign_key.get(), sign_spec, pki.ca.get(), pki.ca_key.get());
    auto enc_key = make_rsa_key(2048);
    CertSpec enc_spec = person("Bob (encryption)", "bob@example.org");
    enc_spec.serial = 4242;
    auto bob_enc = make_cert(enc_key.get(), enc_spec, pki.ca.get(), pki.ca_key.get());
    // The attacker's copy: the same issuer name and serial, bob@ in it, the attacker's key. The
    // certificates of a SignedData are not signed, so it may stand where Bob's was meant.
    auto fake_root_key = make_rsa_key(2048);
    auto fake_root = make_cert(fake_root_key.get(), {"Test Root CA", {}, true, -1, 3650});
    auto attacker_key = make_rsa_key(2048);
    auto forged = make_cert(attacker_key.get(), enc_spec, fake_root.get(), fake_root_key.get());

    engine::Harvest mail = signature(bob_sign.get(), "bob@example.org", true, true);
    mail.preferred_encryption_certificate = ossl::up_ref(forged.get());
    store->harvest(mail);
    CHECK(chosen_fingerprint(*store, "bob@example.org") != fp(forged.get()));

    mail.preferred_encryption_certificate = ossl::up_ref(bob_enc.get());
    store->harvest(mail);
    CHECK(chosen_fingerprint(*store, "bob@example.org") == fp(bob_enc.get()));
}

TEST_CASE(
    "a replayed mail without SMIMECapabilities does not take the advertised algorithms away") {
    Store store;
    const auto pki = TestPki::make("bob@example.org", "carol@example.org");
    store->import_certificate(pem_of(pki.ca.get()), true);
    engine::Harvest mail = signature(pki.rsa_cert.get(), "bob@example.org", true, true);
    mail.capabilities = {"aes256-gcm", "aes256-cbc", "rsaes-oaep"};
    store->harvest(mail);
    REQUIRE(chosen(*store, "bob@example.org")["certificate"]["capabilities"].size() == 3);
    mail.capabilities.clear();
    store->harvest(mail);
    CHECK(chosen(*store, "bob@example.org")["certificate"]["capabilities"].size() == 3);
    // Nor does a signature that is not good (here: an untrusted copy of the same certificate).
    engine::Harvest weak = signature(pki.rsa_cert.get(), "bob@example.org", true, false);
    weak.capabilities = {"aes128-cbc"};
    store->harvest(weak);
    CHECK(chosen(*store, "bob@example.org")["certificate"]["capabilities"].size() == 3);
}

TEST_CASE("mail from a known correspondent that teaches nothing new writes nothing") {
    Store store;
    const auto pki = TestPki::make("someone@example.org", "other@example.org");
    auto key = make_rsa_key(2048);
    CertSpec spec = person("Bob", "bob@example.org");
    spec.emails.push_back("carol@example.org");
    auto bob = make_cert(key.get(), spec);
    engine::Harvest mail = signature(bob.get(), "bob@example.org", true, false);
    mail.chain.push_back(ossl::up_ref(pki.ca.get()));  // an issuer that validates to nothing
    store->harvest(mail);
    // Another connection sees data_version change when the store commits a write.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(store->path().c_str(), &db) == SQLITE_OK);
    const auto version = [db] {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        const auto v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
    };
    const auto before = version();
    store->harvest(mail);
    store->harvest(signature(bob.get(), "bob@example.org", true, false));
    CHECK(version() == before);
    SUBCASE("a good signature after untrusted ones is news") {
        store->harvest(signature(bob.get(), "bob@example.org", true, true));
        CHECK(version() != before);
    }
    SUBCASE("the same certificate From another of its addresses is news") {
        store->harvest(signature(bob.get(), "carol@example.org", true, false));
        CHECK(version() != before);
    }
    SUBCASE("new capabilities in a good signature are news, the same ones again are not") {
        engine::Harvest good = signature(bob.get(), "bob@example.org", true, true);
        good.capabilities = {"aes256-cbc"};
        store->harvest(good);
        const auto after = version();
        CHECK(after != before);
        store->harvest(good);
        CHECK(version() == after);
        good.capabilities = {"aes256-gcm", "aes256-cbc"};
        store->harvest(good);
        CHECK(version() != after);
    }
    sqlite3_close(db);
}
