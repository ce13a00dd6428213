// SPDX-License-Identifier: MIT
// Key store tests against the library: PKCS#12 import from real-world files, activation,
// passphrases and locking, certificates, recipients.status, harvesting, backups.
#include "keystore/certificate_info.h"
#include "keystore/database.h"
#include "keystore/keystore.h"
#include "keystore/pkcs12.h"
#include "keystore/sealing.h"
#include "support/error_code.h"
#include "support/pki.h"
#include "util/base64.h"
#include "util/error.h"

#include <openssl/pem.h>

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <thread>

using namespace smime;
using namespace smime::test;

namespace {

std::filesystem::path temp_store() {
    auto dir = std::filesystem::temp_directory_path() /
               ("smime-ks-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir);
    return dir / "store";
}

bool has_warning(const json& identity, const std::string& code) {
    for (const auto& w : identity["warnings"])
        if (w["code"] == code) return true;
    return false;
}

std::int64_t count(KeyStore& store, const char* what) {
    return store.status()["counts"][what].get<std::int64_t>();
}

// An RFC 4134 key (PKCS#8 DER) and certificate (DER) packed into a PKCS#12 for import.
std::string rfc4134_pkcs12(const std::string& key_file, const std::string& cert_file,
                           const std::string& password) {
    const std::string key_der = test_key("rfc4134/" + key_file),
                      cert_der = test_key("rfc4134/" + cert_file);
    const auto* kp = reinterpret_cast<const unsigned char*>(key_der.data());
    ossl::PKeyPtr key(d2i_AutoPrivateKey(nullptr, &kp, static_cast<long>(key_der.size())));
    REQUIRE(key != nullptr);
    auto cert = certinfo::parse(cert_der);
    auto carl = certinfo::parse(test_key("rfc4134/CarlRSASelf.cer"));
    return make_pkcs12(key.get(), cert.get(), {carl.get()}, password);
}

}  // namespace

TEST_CASE("sealing: round trip, and refusal of a wrong key, wrong fingerprint or altered data") {
    const sealing::KdfParams params = sealing::KdfParams::fresh(true);
    const SecureString key = sealing::derive_key(SecureString("correct horse"), params);
    const SecureString other = sealing::derive_key(SecureString("correct hors"), params);
    const std::string sealed = sealing::seal(key, "private key bytes", "fp1");
    CHECK(sealed.find("private key bytes") == std::string::npos);
    SecureString out;
    CHECK(sealing::unseal(key, sealed, "fp1", out));
    CHECK(out.str() == "private key bytes");
    CHECK_FALSE(sealing::unseal(other, sealed, "fp1", out));
    CHECK_FALSE(sealing::unseal(key, sealed, "fp2", out));
    std::string altered = sealed;
    altered[20] ^= 1;
    CHECK_FALSE(sealing::unseal(key, altered, "fp1", out));
    CHECK(sealing::KdfParams::from_json(params.to_json()).salt == params.salt);
}

TEST_CASE("compiled statements are reused with nothing left bound, and a nested use gets its own") {
    const auto dir = temp_store();
    std::filesystem::create_directories(dir);
    db::Database db(dir / "statements.sqlite");
    db.exec("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT)");
    constexpr const char* kInsert = "INSERT INTO t(k, v) VALUES(?, ?)";
    db.prepare(kInsert).bind(1, "a").bind(2, "first").run();
    // The same text again: the compiled statement comes back without the last bindings (an unbound
    // v is NULL).
    db.prepare(kInsert).bind(1, "b").run();
    {
        auto st = db.prepare("SELECT v FROM t WHERE k = ?");
        st.bind(1, "b");
        REQUIRE(st.step());
        CHECK(st.is_null(0));
    }
    // A query of the same text while one is still stepping through its rows.
    constexpr const char* kAll = "SELECT k FROM t ORDER BY k";
    std::vector<std::string> pairs;
    {
        auto outer = db.prepare(kAll);
        while (outer.step()) {
            auto inner = db.prepare(kAll);
            while (inner.step()) pairs.push_back(outer.text(0) + inner.text(0));
        }
    }
    CHECK(pairs == std::vector<std::string>{"aa", "ab", "ba", "bb"});
    // A statement given back part-way ends its read: the next query sees what another connection
    // wrote since, not the old snapshot.
    {
        auto partly = db.prepare(kAll);
        REQUIRE(partly.step());
    }
    db::Database other(dir / "statements.sqlite");
    other.exec("DELETE FROM t WHERE k = 'a'");
    auto left = db.prepare(kAll);
    REQUIRE(left.step());
    CHECK(left.text(0) == "b");
    CHECK_FALSE(left.step());
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a new store is private to its owner and unprotected until a passphrase is set") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const json status = store.status();
    CHECK(status["protected"] == false);
    CHECK(status["unlocked"] == true);
    CHECK(status["counts"]["identities"] == 0);
    CHECK(status["schema_version"] == 3);
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat((dir / KeyStore::kFileName).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("PKCS#12 files as real users have them import, with their warnings") {
    const auto dir = temp_store();
    KeyStore store(dir);

    SUBCASE("Thunderbird's modern files (PBES2/AES-256, HMAC-SHA-256), RSA and EC") {
        const json alice =
            store.import_identity(test_key("thunderbird/Alice.p12"), SecureString("nss"));
        CHECK(alice["emails"] ==
              json::array({"alice@example.com"}));  // from the subject's emailAddress
        CHECK(alice["key"]["type"] == "RSA");
        CHECK(alice["key"]["bits"] == 2048);
        CHECK(alice["active"] == true);
        CHECK(alice["fingerprint"].get<std::string>().size() == 64);
        CHECK_FALSE(has_warning(alice, "expired"));
        const json ec =
            store.import_identity(test_key("thunderbird/Alice-ec.p12"), SecureString("nss"));
        CHECK(ec["key"]["type"] == "EC");
        CHECK(ec["key"]["bits"] == 384);
        CHECK(ec["chain_length"].get<int>() >= 1);  // the EC test CA travels in the file
        const json eve =
            store.import_identity(test_key("thunderbird/Eve.p12"), SecureString("nss"));
        CHECK(eve["emails"].size() >= 3);  // SAN addresses plus the subject's
        const json fran =
            store.import_identity(test_key("thunderbird/Fran.p12"), SecureString("nss"));  // 3DES
        CHECK(fran["emails"] == json::array({"fran@example.com"}));
        CHECK(count(store, "identities") == 4);
    }
    SUBCASE("Thunderbird's 2019 legacy files: empty password, RC2-40 certificate bags, expired") {
        for (const char* name : {"Alice", "Bob", "Dave", "Eve"}) {
            const json id = store.import_identity(
                test_key(std::string("thunderbird-2019/") + name + ".p12"), SecureString());
            CHECK(has_warning(id, "expired"));
        }
        CHECK(count(store, "identities") == 4);
    }
    SUBCASE("RFC 4134 keys (RSA, certificates signed with SHA-1 by Carl)") {
        const json alice = store.import_identity(
            rfc4134_pkcs12("AlicePrivRSASign.pri", "AliceRSASignByCarl.cer", "4134"),
            SecureString("4134"));
        CHECK(alice["emails"] == json::array({"alicersa@example.com"}));
        CHECK(has_warning(alice, "weak_signature"));
        CHECK(alice["chain_length"] == 1);
        const json bob = store.import_identity(
            rfc4134_pkcs12("BobPrivRSAEncrypt.pri", "BobRSASignByCarl.cer", "4134"),
            SecureString("4134"));
        CHECK(bob["emails"] == json::array({"bobrsa@example.com"}));
    }
    SUBCASE(
        "Bouncy Castle: johndoe.p12 (empty password, expired) and a legacy re-export of key.pem") {
        const json john =
            store.import_identity(test_key("bouncycastle/johndoe.p12"), SecureString());
        CHECK(john["emails"] == json::array({"john.doe@example.net"}));
        CHECK(has_warning(john, "expired"));
        auto cert = certinfo::parse(test_key("bouncycastle/cert.pem"));
        const std::string key_pem = test_key("bouncycastle/key.pem");
        auto bio = ossl::memory_bio(key_pem);
        ossl::PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        REQUIRE(key != nullptr);
        const json massi = store.import_identity(make_pkcs12(key.get(), cert.get(), {}, "bc", true),
                                                 SecureString("bc"));
        CHECK(has_warning(massi, "weak_key"));  // 1024-bit RSA
        CHECK(massi["emails"] == json::array({"massi@direct.tiani-spirit.net"}));
    }
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("bad PKCS#12 input: clear errors and nothing stored") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const auto pki = TestPki::make();
    const std::string good =
        make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {pki.ca.get()}, "secret");

    CHECK(code_of([&] { store.import_identity(good, SecureString("wrong")); }) ==
          Code::BadPassword);
    CHECK(code_of([&] {
              store.import_identity(test_key("thunderbird/Alice.p12"), SecureString(""));
          }) == Code::BadPassword);
    CHECK(code_of([&] {
              store.import_identity(test_key("thunderbird-2019/Alice.p12"), SecureString("x"));
          }) == Code::BadPassword);
    CHECK(code_of([&] {
              store.import_identity("not a pkcs12 file at all", SecureString("secret"));
          }) == Code::BadPkcs12);
    CHECK(code_of([&] {
              store.import_identity(good.substr(0, good.size() / 2), SecureString("secret"));
          }) == Code::BadPkcs12);
    std::string corrupt = good;
    corrupt[corrupt.size() / 2] ^= 0x55;
    const Code corrupt_code =
        code_of([&] { store.import_identity(corrupt, SecureString("secret")); });
    CHECK((corrupt_code == Code::BadPkcs12 ||
           corrupt_code == Code::BadPassword));  // MAC covers the data
    // A certificate without its key, and a key whose certificate is someone else's.
    const std::string cert_only = make_pkcs12(nullptr, pki.rsa_cert.get(), {}, "secret");
    CHECK(code_of([&] { store.import_identity(cert_only, SecureString("secret")); }) ==
          Code::BadPkcs12);
    const std::string mismatched =
        make_mismatched_pkcs12(pki.rsa_key.get(), pki.ec_cert.get(), "secret");
    CHECK(code_of([&] { store.import_identity(mismatched, SecureString("secret")); }) ==
          Code::BadPkcs12);

    CHECK(count(store, "identities") == 0);
    CHECK(count(store, "certificates") == 0);
    CHECK(store.import_identity(good, SecureString("secret"))["active"] == true);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("one active identity per address; activate, deactivate, delete, export") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const auto pki = TestPki::make();
    auto key2 = make_rsa_key(2048);
    auto cert2 = make_cert(key2.get(),
                           {"Alice (new)",
                            {"alice@example.org"},
                            false,
                            -1,
                            730,
                            "digitalSignature,keyEncipherment",
                            "emailProtection"},
                           pki.ca.get(), pki.ca_key.get());
    const json first = store.import_identity(
        make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {pki.ca.get()}, "pw"),
        SecureString("pw"));
    const json second =
        store.import_identity(make_pkcs12(key2.get(), cert2.get(), {}, "pw"), SecureString("pw"));
    const std::string fp1 = first["fingerprint"], fp2 = second["fingerprint"];
    CHECK(first["active"] == true);
    CHECK(second["active"] == false);  // the first is still valid: it stays the one in use
    CHECK(store.active_fingerprint("Alice@Example.org") == fp1);

    CHECK(store.activate(fp2)["active"] == true);
    CHECK(store.active_fingerprint("alice@example.org") == fp2);
    const json list = store.list_identities();
    REQUIRE(list.size() == 2);
    int active = 0;
    for (const auto& id : list) active += id["active"].get<bool>() ? 1 : 0;
    CHECK(active == 1);

    CHECK(store.deactivate(fp2)["active"] == false);
    CHECK_FALSE(store.active_fingerprint("alice@example.org").has_value());
    CHECK(code_of([&] { store.signing_identity("alice@example.org"); }) == Code::NoIdentity);
    store.activate(fp1);
    CHECK(store.signing_identity("alice@example.org").fingerprint == fp1);

    const std::string pem = store.export_certificate(fp1, true);
    CHECK(pem.find("BEGIN CERTIFICATE") != std::string::npos);
    CHECK(pem.find("PRIVATE") == std::string::npos);
    CHECK(certinfo::parse_all(pem).size() == 2);  // with the chain

    store.delete_identity(fp1);
    CHECK(store.list_identities().size() == 1);
    CHECK_FALSE(store.active_fingerprint("alice@example.org").has_value());
    CHECK(code_of([&] { store.delete_identity(fp1); }) == Code::NotFound);
    CHECK(code_of([&] { store.activate(std::string(64, 'a')); }) == Code::NotFound);
    CHECK(code_of([&] { store.activate("xyz"); }) == Code::BadRequest);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a closed store leaves its write-ahead log empty, and the next process reads it") {
    const auto dir = temp_store();
    const auto pki = TestPki::make();
    std::string fp;
    {
        KeyStore store(dir);
        fp = store.import_identity(make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {}, "pw"),
                                   SecureString("pw"))["fingerprint"];
        // While open, the write went to the log.
        REQUIRE(std::filesystem::exists(dir / "keystore.sqlite-wal"));
    }
    // The log file is kept for the next process (not made and deleted by every one), but holds
    // no page: the import, sealed key included, is in the database file alone.
    CHECK(std::filesystem::file_size(dir / "keystore.sqlite-wal") == 0);
    {
        KeyStore store(dir);
        CHECK(store.identity(fp).private_key != nullptr);
        store.delete_identity(fp);
    }
    CHECK(std::filesystem::file_size(dir / "keystore.sqlite-wal") == 0);
    KeyStore again(dir);
    CHECK(again.list_identities().empty());
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("passphrase: set, lock, unlock, change, wrong passphrase, remove") {
    const auto dir = temp_store();
    // A cheap scrypt cost: the production cost has its own tests (test_keystore_locking.cpp).
    const KeyStoreTuning kFastKdf{1u << 10, std::nullopt};
    const auto pki = TestPki::make();
    std::string fp;
    {
        KeyStore store(dir, KeyStore::no_policy(), kFastKdf);
        fp = store.import_identity(make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {}, "pw"),
                                   SecureString("pw"))["fingerprint"];
        store.set_passphrase(SecureString("first passphrase"), std::nullopt);
        CHECK(store.status()["protected"] == true);
        CHECK(store.status()["unlocked"] == true);  // the process that set it keeps it
        CHECK(store.identity(fp).private_key != nullptr);
        store.lock();
        CHECK(store.status()["unlocked"] == false);
        CHECK(code_of([&] { store.identity(fp); }) == Code::Locked);
        CHECK(code_of([&] { store.decryption_identities(); }) == Code::Locked);
    }
    KeyStore other(dir, KeyStore::no_policy(), kFastKdf);  // another process
    CHECK(other.status()["unlocked"] == false);
    CHECK(code_of([&] { other.signing_identity("alice@example.org"); }) == Code::Locked);
    CHECK(other.list_identities().size() == 1);  // public data needs no passphrase
    CHECK(code_of([&] { other.unlock(SecureString("wrong"), std::nullopt); }) ==
          Code::BadPassphrase);
    other.unlock(SecureString("first passphrase"), std::nullopt);
    CHECK(other.identity(fp).private_key != nullptr);
    CHECK(code_of([&] { other.set_passphrase(SecureString("second"), std::nullopt); }) ==
          Code::BadRequest);
    CHECK(code_of([&] { other.set_passphrase(SecureString("second"), SecureString("nope")); }) ==
          Code::BadPassphrase);
    other.set_passphrase(SecureString("second"), SecureString("first passphrase"));
    other.lock();
    CHECK(code_of([&] { other.unlock(SecureString("first passphrase"), std::nullopt); }) ==
          Code::BadPassphrase);
    other.unlock(SecureString("second"), 5);
    CHECK(other.status()["idle_lock_minutes"] == 5);
    CHECK(EVP_PKEY_eq(other.identity(fp).private_key.get(), pki.rsa_key.get()) == 1);
    other.set_passphrase(SecureString(), SecureString("second"));
    KeyStore third(dir, KeyStore::no_policy(), kFastKdf);
    CHECK(third.status()["protected"] == false);
    CHECK(third.identity(fp).private_key != nullptr);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("decoded private keys are kept only while the store is unlocked and unchanged") {
    const auto dir = temp_store();
    const KeyStoreTuning kFastKdf{1u << 10, std::chrono::milliseconds(300)};
    const auto pki = TestPki::make();
    KeyStore store(dir, KeyStore::no_policy(), kFastKdf);
    const std::string fp =
        store.import_identity(make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {}, "pw"),
                              SecureString("pw"))["fingerprint"];
    store.set_passphrase(SecureString("first passphrase"), std::nullopt);
    // While unlocked, the same decoded key serves every message.
    const EVP_PKEY* first = store.identity(fp).private_key.get();
    CHECK(store.identity(fp).private_key.get() == first);
    CHECK(store.decryption_identities().at(0).private_key.get() == first);
    SUBCASE("the idle timeout takes it with the passphrase's key") {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        CHECK(code_of([&] { store.identity(fp); }) == Code::Locked);
        CHECK(code_of([&] { store.decryption_identities(); }) == Code::Locked);
    }
    SUBCASE("a passphrase changed by another process is not bypassed") {
        KeyStore other(dir, KeyStore::no_policy(), kFastKdf);
        other.unlock(SecureString("first passphrase"), std::nullopt);
        other.set_passphrase(SecureString("second"), SecureString("first passphrase"));
        CHECK(code_of([&] { store.identity(fp); }) == Code::Locked);
        store.unlock(SecureString("second"), std::nullopt);
        CHECK(EVP_PKEY_eq(store.identity(fp).private_key.get(), pki.rsa_key.get()) == 1);
    }
    SUBCASE("a deleted identity's key is gone") {
        store.delete_identity(fp);
        CHECK(code_of([&] { store.identity(fp); }) == Code::NotFound);
        CHECK(store.decryption_identities().empty());
    }
    SUBCASE("an identity another process deleted is gone here too") {
        KeyStore other(dir, KeyStore::no_policy(), kFastKdf);
        other.unlock(SecureString("first passphrase"), std::nullopt);
        other.delete_identity(fp);
        CHECK(store.decryption_identities().empty());
        CHECK(code_of([&] { store.identity(fp); }) == Code::NotFound);
    }
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE(
    "certificates: import, trust anchors, list, delete; recipients.status picks the right one") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const auto pki = TestPki::make("alice@example.org", "bob@example.org");
    // PEM, and base64 DER.
    CHECK(store.import_certificate(pem_of(pki.ec_cert.get()), false).size() == 1);
    const std::string ca_der = certinfo::der(pki.ca.get());
    CHECK(store.import_certificate(base64::encode(ca_der), true)[0]["trust_anchor"] == true);
    CHECK(code_of([&] { store.import_certificate(pem_of(pki.rsa_cert.get()), true); }) ==
          Code::BadCertificate);
    CHECK(code_of([&] { store.import_certificate("garbage", false); }) == Code::BadCertificate);
    CHECK(store.list_certificates(std::string("BOB@example.org"))["certificates"].size() == 1);
    CHECK(store.status()["counts"]["trust_anchors"] == 1);
    // Found by serial number, as a signature without its certificate names it.
    const std::string serial = certinfo::describe(pki.ec_cert.get(), std::time(nullptr)).serial;
    const auto by_serial = store.certificates_with_serial(serial);
    REQUIRE(by_serial.size() == 1);
    CHECK(X509_cmp(by_serial[0].get(), pki.ec_cert.get()) == 0);
    CHECK(store.certificates_with_serial("ffff0000ffff").empty());

    // Carol: an expired certificate, a current one, and a newer one she asked us to use.
    auto key = make_rsa_key(2048);
    const CertSpec base{
        "Carol",          {"carol@example.org"}, false, -1, 365, "digitalSignature,keyEncipherment",
        "emailProtection"};
    CertSpec expired = base;
    expired.valid_from_days = -400;
    CertSpec older = base;
    older.valid_from_days = -10;
    CertSpec newer = base;
    newer.valid_from_days = -2;
    CertSpec signing_only = base;
    signing_only.key_usage = "digitalSignature";
    signing_only.valid_from_days = -1;
    auto c_expired = make_cert(key.get(), expired, pki.ca.get(), pki.ca_key.get());
    auto c_older = make_cert(key.get(), older, pki.ca.get(), pki.ca_key.get());
    auto c_newer = make_cert(key.get(), newer, pki.ca.get(), pki.ca_key.get());
    auto c_signing = make_cert(key.get(), signing_only, pki.ca.get(), pki.ca_key.get());
    for (X509* c : {c_expired.get(), c_older.get(), c_signing.get()})
        store.import_certificate(pem_of(c), false);

    json status =
        store.recipients_status({"carol@example.org", "Bob@Example.org", "nobody@example.org"});
    REQUIRE(status.size() == 3);
    CHECK(status[0]["can_encrypt"] == true);
    CHECK(status[0]["certificate"]["fingerprint"] == certinfo::fingerprint(c_older.get()));
    CHECK(status[1]["can_encrypt"] == true);
    CHECK(status[1]["address"] == "Bob@Example.org");
    CHECK(status[2]["can_encrypt"] == false);
    CHECK(status[2]["certificate"].is_null());

    store.import_certificate(pem_of(c_newer.get()), false);
    status = store.recipients_status({"carol@example.org"});
    CHECK(status[0]["certificate"]["fingerprint"] == certinfo::fingerprint(c_newer.get()));

    // Harvest: Carol's signed mail names the older certificate as her encryption key.
    engine::Harvest learned;
    learned.certificate = ossl::up_ref(c_signing.get());
    learned.preferred_encryption_certificate = ossl::up_ref(c_older.get());
    learned.capabilities = {"aes256-gcm", "aes256-cbc", "rsaes-oaep"};
    learned.sender_address = "carol@example.org";
    learned.matched_addresses = {"carol@example.org"};
    learned.good = true;
    store.harvest(learned);
    status = store.recipients_status({"carol@example.org"});
    CHECK(status[0]["certificate"]["fingerprint"] == certinfo::fingerprint(c_older.get()));
    CHECK(status[0]["certificate"]["capabilities"] ==
          json::array({"aes256-gcm", "aes256-cbc", "rsaes-oaep"}));
    const auto r = store.recipient("carol@example.org");
    REQUIRE(r.has_value());
    CHECK(r->capabilities.size() == 3);

    // A certificate harvested from mail of a new correspondent makes them encryptable.
    auto dkey = make_ec_key("P-256");
    auto dave = pki.issue_ec(dkey.get(), "Dave", "dave@example.org");
    engine::Harvest from_dave;
    from_dave.certificate = ossl::up_ref(dave.get());
    from_dave.sender_address = "dave@example.org";
    from_dave.matched_addresses = {"dave@example.org"};
    store.harvest(from_dave);
    CHECK(store.recipients_status({"dave@example.org"})[0]["can_encrypt"] == true);
    const json listed = store.list_certificates(std::string("dave@example.org"))["certificates"];
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["source"] == "harvested");
    CHECK(listed[0]["seen_from"] == "dave@example.org");

    const std::string fp = certinfo::fingerprint(dave.get());
    store.delete_certificate(fp);
    CHECK(store.recipients_status({"dave@example.org"})[0]["can_encrypt"] == false);
    CHECK(code_of([&] { store.delete_certificate(fp); }) == Code::NotFound);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a backup is a PKCS#12 that imports again, under its own password") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const json id =
        store.import_identity(test_key("thunderbird/Alice-ec.p12"), SecureString("nss"));
    const std::string p12 = store.backup(id["fingerprint"], SecureString("backup password"));
    const engine::Identity back = pkcs12::read(p12, SecureString("backup password"));
    CHECK(back.fingerprint == id["fingerprint"]);
    CHECK(back.chain.size() >= 1);
    CHECK(code_of([&] { pkcs12::read(p12, SecureString("nss")); }) == Code::BadPassword);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("a store written by a newer release is refused, not misread") {
    const auto dir = temp_store();
    { KeyStore store(dir); }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / KeyStore::kFileName).c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK(code_of([&] { KeyStore again(dir); }) == Code::Storage);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("certificates.import_crl takes PEM, DER and base64 DER") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const auto pki = TestPki::make();
    ossl::X509CrlPtr crl(X509_CRL_new());
    REQUIRE(crl);
    X509_CRL_set_version(crl.get(), 1);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(pki.ca.get()));
    const std::unique_ptr<ASN1_TIME, void (*)(ASN1_TIME*)> now(
        ASN1_TIME_set(nullptr, std::time(nullptr)), ASN1_TIME_free);
    X509_CRL_set1_lastUpdate(crl.get(), now.get());
    REQUIRE(X509_CRL_sign(crl.get(), pki.ca_key.get(), EVP_sha256()) > 0);
    unsigned char* raw = nullptr;
    const int n = i2d_X509_CRL(crl.get(), &raw);
    REQUIRE(n > 0);
    const std::string der(reinterpret_cast<char*>(raw), static_cast<std::size_t>(n));
    OPENSSL_free(raw);
    ossl::BioPtr pem(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509_CRL(pem.get(), crl.get());

    // The protocol sends base64 DER (docs/protocol.md): the same CRL as from PEM or raw DER.
    const json from_base64 = store.import_crl(base64::encode(der));
    CHECK(from_base64["issuer"] == "CN=Test Root CA");
    CHECK(store.import_crl(ossl::bio_contents(pem.get()))["fingerprint"] ==
          from_base64["fingerprint"]);
    CHECK(store.import_crl(der)["fingerprint"] == from_base64["fingerprint"]);
    CHECK(count(store, "crls") == 1);
    CHECK(code_of([&] { store.import_crl("not base64 at all!"); }) == Code::BadCertificate);
    CHECK(code_of([&] { store.import_crl(base64::encode("not a CRL")); }) == Code::BadCertificate);
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("an Ed25519 identity is refused at import with a clear error") {
    const auto dir = temp_store();
    KeyStore store(dir);
    const auto pki = TestPki::make();
    ossl::PKeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    REQUIRE(key);
    const CertSpec spec{"Olga",           {"olga@example.org"}, false, -1, 365, "digitalSignature",
                        "emailProtection"};
    const auto cert = make_cert(key.get(), spec, pki.ca.get(), pki.ca_key.get());
    const std::string p12 = make_pkcs12(key.get(), cert.get(), {pki.ca.get()}, "secret");
    try {
        store.import_identity(p12, SecureString("secret"));
        FAIL("an Ed25519 identity was imported");
    } catch (const Error& e) {
        CHECK(e.code() == Code::BadPkcs12);
        CHECK(std::string(e.what()).find("Ed25519") != std::string::npos);
        CHECK(e.details()["key_type"] == "ed25519");
    }
    CHECK(count(store, "identities") == 0);
    std::filesystem::remove_all(dir.parent_path());
}
