// SPDX-License-Identifier: MIT
// Key store locking against the library: a stale derived key, unreadable identities, what a
// locked store refuses, the idle lock, the key derivation's cost and upgrade, folder permissions.
#include "keystore/keystore.h"
#include "keystore/pkcs12.h"
#include "keystore/sealing.h"
#include "support/error_code.h"
#include "support/pki.h"
#include "util/base64.h"
#include "util/error.h"

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <random>
#include <thread>

using namespace smime;
using namespace smime::test;

namespace {

// Library tests derive with a cheap scrypt cost; the production cost has its own tests below.
const KeyStoreTuning kFast{1u << 10, std::nullopt};

std::filesystem::path temp_root() {
    auto dir = std::filesystem::temp_directory_path() /
               ("smime-kl-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

std::string identity_p12(const TestPki& pki, bool rsa) {
    return rsa ? make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {pki.ca.get()}, "pw")
               : make_pkcs12(pki.ec_key.get(), pki.ec_cert.get(), {pki.ca.get()}, "pw");
}

// A store in `dir` (cheap derivation) holding one identity, RSA or EC, and protected with
// `passphrase` when one is given; returns the identity's fingerprint.
std::string store_with_identity(const std::filesystem::path& dir, const TestPki& pki, bool rsa,
                                const char* passphrase = nullptr) {
    KeyStore store(dir, KeyStore::no_policy(), kFast);
    std::string fp =
        store.import_identity(identity_p12(pki, rsa), SecureString("pw"))["fingerprint"];
    if (passphrase) store.set_passphrase(SecureString(passphrase), std::nullopt);
    return fp;
}

// Direct access to the store file, as another program (or an attacker with the file) has it.
struct RawStore {
    sqlite3* db = nullptr;
    explicit RawStore(const std::filesystem::path& dir) {
        REQUIRE(sqlite3_open((dir / KeyStore::kFileName).c_str(), &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
    }
    ~RawStore() { sqlite3_close(db); }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        std::string v;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                     sqlite3_column_bytes(st, 0));
        sqlite3_finalize(st);
        return v;
    }
    void set_blob(const std::string& sql, const std::string& value) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
    }
    json kdf() { return json::parse(text("SELECT value FROM meta WHERE key = 'kdf'")); }
};

}  // namespace

TEST_CASE(
    "a process whose key went stale after another changed the passphrase says ERR_LOCKED and loses "
    "nothing") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    KeyStore first(dir, KeyStore::no_policy(), kFast);
    first.set_passphrase(SecureString("one"), std::nullopt);
    KeyStore second(dir, KeyStore::no_policy(),
                    kFast);  // another process, unlocked before the change
    second.unlock(SecureString("one"), std::nullopt);
    first.set_passphrase(SecureString("two"), SecureString("one"));

    // Sealing under the stale key would lose the key for good: refuse instead.
    CHECK(code_of([&] { second.import_identity(identity_p12(pki, true), SecureString("pw")); }) ==
          Code::Locked);
    CHECK_FALSE(second.holds_key());
    CHECK(second.list_identities().empty());  // nothing half-written
    second.unlock(SecureString("two"), std::nullopt);
    const std::string fp =
        second.import_identity(identity_p12(pki, true), SecureString("pw"))["fingerprint"];

    // Every key opens for every process, and the passphrase can still change.
    CHECK(first.decryption_identities().size() == 1);
    first.set_passphrase(SecureString("three"), SecureString("two"));
    KeyStore third(dir, KeyStore::no_policy(), kFast);
    third.unlock(SecureString("three"), std::nullopt);
    CHECK(EVP_PKEY_eq(third.identity(fp).private_key.get(), pki.rsa_key.get()) == 1);
    // A process that decrypts with its stale key is told to unlock again.
    CHECK(code_of([&] { second.decryption_identities(); }) == Code::Locked);
    std::filesystem::remove_all(root);
}

TEST_CASE("one unreadable identity does not stop the others") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    KeyStore store(dir, KeyStore::no_policy(), kFast);
    const std::string rsa_fp =
        store.import_identity(identity_p12(pki, true), SecureString("pw"))["fingerprint"];
    const std::string ec_fp =
        store.import_identity(identity_p12(pki, false), SecureString("pw"))["fingerprint"];
    store.set_passphrase(SecureString("secret"), std::nullopt);
    {
        // The RSA key was sealed under some other key (or the bytes were damaged).
        RawStore raw(dir);
        std::string sealed =
            raw.text("SELECT sealed_key FROM identities WHERE fingerprint = '" + rsa_fp + "'");
        sealed[sealed.size() / 2] ^= 1;
        raw.set_blob("UPDATE identities SET sealed_key = ? WHERE fingerprint = '" + rsa_fp + "'",
                     sealed);
    }
    const auto ids = store.decryption_identities();
    REQUIRE(ids.size() == 1);
    CHECK(ids[0].fingerprint == ec_fp);
    CHECK(store.signing_identity("bob@example.org").private_key != nullptr);
    CHECK(code_of([&] { store.signing_identity("alice@example.org"); }) == Code::Storage);
    // Changing the passphrase keeps working; the readable key follows the new passphrase.
    store.set_passphrase(SecureString("new secret"), SecureString("secret"));
    KeyStore other(dir, KeyStore::no_policy(), kFast);
    other.unlock(SecureString("new secret"), std::nullopt);
    CHECK(EVP_PKEY_eq(other.identity(ec_fp).private_key.get(), pki.ec_key.get()) == 1);
    CHECK(other.decryption_identities().size() == 1);
    std::filesystem::remove_all(root);
}

TEST_CASE(
    "on a protected, locked store, deleting an identity and adding a trust anchor need the "
    "passphrase") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    const std::string fp = store_with_identity(dir, pki, true, "secret");
    KeyStore store(dir, KeyStore::no_policy(), kFast);
    CHECK(code_of([&] { store.delete_identity(fp); }) == Code::Locked);
    CHECK(code_of([&] { store.import_certificate(pem_of(pki.ca.get()), true); }) == Code::Locked);
    CHECK(store.list_identities().size() == 1);
    CHECK(store.status()["counts"]["trust_anchors"] == 0);
    // Ordinary certificates need no passphrase.
    CHECK(store.import_certificate(pem_of(pki.ec_cert.get()), false).size() == 1);
    store.unlock(SecureString("secret"), std::nullopt);
    store.import_certificate(pem_of(pki.ca.get()), true);
    CHECK(store.status()["counts"]["trust_anchors"] == 1);
    store.delete_identity(fp);
    CHECK(store.list_identities().empty());
    std::filesystem::remove_all(root);
}

TEST_CASE(
    "the idle lock wipes the derived key when the time comes, without waiting for a request") {
    const auto root = temp_root();
    KeyStoreTuning tuning = kFast;
    tuning.idle_timeout = std::chrono::milliseconds(200);
    KeyStore store(root / "store", KeyStore::no_policy(), tuning);
    store.set_passphrase(SecureString("secret"), std::nullopt);
    CHECK(store.holds_key());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    store.status();  // use keeps it
    CHECK(store.holds_key());
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    CHECK_FALSE(store.holds_key());  // nobody asked, and the key is gone
    CHECK(store.status()["unlocked"] == false);
    store.unlock(SecureString("secret"), std::nullopt);
    CHECK(store.holds_key());
    store.lock();
    CHECK_FALSE(store.holds_key());
    std::filesystem::remove_all(root);
}

TEST_CASE(
    "a new passphrase is stretched with scrypt N >= 2^17 and the parameters are authenticated") {
    const auto root = temp_root();
    const auto dir = root / "store";
    {
        KeyStore store(dir);  // the production cost
        store.set_passphrase(SecureString("secret"), std::nullopt);
    }
    json kdf = RawStore(dir).kdf();
    CHECK(kdf["n"].get<std::uint64_t>() >= (1u << 17));
    CHECK(kdf["r"] == 8);
    CHECK(kdf["p"] == 1);
    {
        // The record is bound to the verifier: the same numbers written another way do not open.
        RawStore raw(dir);
        json edited = kdf;
        edited["note"] = "edited";
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'kdf'", edited.dump());
    }
    KeyStore again(dir);
    CHECK(code_of([&] { again.unlock(SecureString("secret"), std::nullopt); }) ==
          Code::BadPassphrase);
    std::filesystem::remove_all(root);
}

TEST_CASE("a store derived with a lower cost is upgraded at the next unlock, keys and all") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    const std::string fp = store_with_identity(dir, pki, false, "secret");
    CHECK(RawStore(dir).kdf()["n"] == 1024);
    {
        KeyStore current(dir);
        CHECK(code_of([&] { current.unlock(SecureString("wrong"), std::nullopt); }) ==
              Code::BadPassphrase);
        CHECK(RawStore(dir).kdf()["n"] == 1024);  // only the right passphrase upgrades
        current.unlock(SecureString("secret"), std::nullopt);
        CHECK(RawStore(dir).kdf()["n"].get<std::uint64_t>() >= (1u << 17));
        CHECK(EVP_PKEY_eq(current.identity(fp).private_key.get(), pki.ec_key.get()) == 1);
    }
    KeyStore next(dir);
    next.unlock(SecureString("secret"), std::nullopt);
    CHECK(next.decryption_identities().size() == 1);
    std::filesystem::remove_all(root);
}

TEST_CASE("a store of the first release (unbound verifier, N = 2^15) opens and is upgraded") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    const std::string fp = store_with_identity(dir, pki, false);
    {
        // Rewrite it as the first release left it: {kdf, n, r, p, salt} and a verifier sealed with
        // the associated data "verifier", the key under the passphrase's key.
        RawStore raw(dir);
        const auto current = sealing::KdfParams::from_json(raw.kdf());
        const SecureString current_key = sealing::derive_key(SecureString(), current);
        SecureString plain;
        REQUIRE(
            sealing::unseal(current_key, raw.text("SELECT sealed_key FROM identities"), fp, plain));
        sealing::KdfParams v1;
        v1.n = 1u << 15;
        v1.salt = sealing::random_bytes(16);
        const SecureString v1_key = sealing::derive_key(SecureString("old passphrase"), v1);
        const json record = {
            {"kdf", "scrypt"}, {"n", v1.n}, {"r", 8}, {"p", 1}, {"salt", base64::encode(v1.salt)}};
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'kdf'", record.dump());
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'verifier'",
                     sealing::seal(v1_key, "smime-host key store v1", "verifier"));
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'protected'", "1");
        raw.set_blob("UPDATE identities SET sealed_key = ?",
                     sealing::seal(v1_key, plain.str(), fp));
    }
    {
        KeyStore store(dir);
        store.unlock(SecureString("old passphrase"), std::nullopt);
        CHECK(RawStore(dir).kdf()["n"].get<std::uint64_t>() >= (1u << 17));
        CHECK(EVP_PKEY_eq(store.identity(fp).private_key.get(), pki.ec_key.get()) == 1);
    }
    KeyStore next(dir);
    next.unlock(SecureString("old passphrase"), std::nullopt);
    CHECK(next.decryption_identities().size() == 1);
    std::filesystem::remove_all(root);
}

TEST_CASE(
    "an unprotected store of the earlier derivation (N = 2^10, r = 8) is brought down to today's "
    "at its next use") {
    const auto root = temp_root();
    const auto dir = root / "store";
    const auto pki = TestPki::make();
    const std::string fp = store_with_identity(dir, pki, false);
    const json today = RawStore(dir).kdf();
    CHECK(today["n"] == sealing::kUnprotectedScryptN);
    CHECK(today["r"] == sealing::kUnprotectedScryptR);
    {
        // Rewrite it as the earlier release left it: the same record format, a costlier derivation.
        RawStore raw(dir);
        const SecureString current_key =
            sealing::derive_key(SecureString(), sealing::KdfParams::from_json(today));
        SecureString plain;
        REQUIRE(
            sealing::unseal(current_key, raw.text("SELECT sealed_key FROM identities"), fp, plain));
        sealing::KdfParams earlier;
        earlier.n = 1u << 10;
        earlier.r = 8;
        earlier.salt = sealing::random_bytes(16);
        const SecureString earlier_key = sealing::derive_key(SecureString(), earlier);
        const std::string record = earlier.to_json().dump();
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'kdf'", record);
        raw.set_blob("UPDATE meta SET value = ? WHERE key = 'verifier'",
                     sealing::seal(earlier_key, "smime-host key store v1",
                                   "smime-host key derivation record\n" + record));
        raw.set_blob("UPDATE identities SET sealed_key = ?",
                     sealing::seal(earlier_key, plain.str(), fp));
    }
    CHECK(RawStore(dir).kdf()["n"] == 1024);
    {
        KeyStore store(dir);
        CHECK(EVP_PKEY_eq(store.identity(fp).private_key.get(), pki.ec_key.get()) == 1);
    }
    CHECK(RawStore(dir).kdf()["n"] == sealing::kUnprotectedScryptN);
    CHECK(RawStore(dir).kdf()["r"] == sealing::kUnprotectedScryptR);
    KeyStore next(dir);
    CHECK(EVP_PKEY_eq(next.identity(fp).private_key.get(), pki.ec_key.get()) == 1);
    std::filesystem::remove_all(root);
}

TEST_CASE("the store's missing parent folders are created 0700 whatever the umask") {
    const auto root = temp_root();
    const mode_t saved = ::umask(0);
    try {
        KeyStore store(root / "a" / "b" / "store", KeyStore::no_policy(), kFast);
    } catch (...) {
        ::umask(saved);
        throw;
    }
    ::umask(saved);
    for (const auto& p : {root / "a", root / "a" / "b", root / "a" / "b" / "store"}) {
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        CAPTURE(p.string());
        CHECK((st.st_mode & 0777) == 0700);
    }
    std::filesystem::remove_all(root);
}

TEST_CASE("a store below a world-writable folder without the sticky bit is refused") {
    const auto root = temp_root();
    std::filesystem::create_directories(root / "shared");
    REQUIRE(::chmod((root / "shared").c_str(), 0777) == 0);
    CHECK(code_of([&] {
              KeyStore store(root / "shared" / "store", KeyStore::no_policy(), kFast);
          }) == Code::Storage);
    // With the sticky bit (as /tmp has it) nobody else can rename the store away.
    REQUIRE(::chmod((root / "shared").c_str(), 01777) == 0);
    CHECK_NOTHROW(KeyStore(root / "shared" / "store2", KeyStore::no_policy(), kFast));
    std::filesystem::remove_all(root);
}

TEST_CASE("the PKCS#12 backup uses PBKDF2 with 600,000 iterations, AES-256-CBC and HMAC-SHA-256") {
    const auto root = temp_root();
    const auto pki = TestPki::make();
    KeyStore store(root / "store", KeyStore::no_policy(), kFast);
    const std::string fp =
        store.import_identity(identity_p12(pki, false), SecureString("pw"))["fingerprint"];
    const std::string backup = store.backup(fp, SecureString("backup password"));
    const auto* p = reinterpret_cast<const unsigned char*>(backup.data());
    ossl::Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(backup.size())));
    REQUIRE(p12);
    // The MAC: HMAC-SHA-256 with the same iteration count (a cheaper MAC would be a cheaper
    // oracle).
    const ASN1_OCTET_STRING* mac = nullptr;
    const X509_ALGOR* mac_alg = nullptr;
    const ASN1_OCTET_STRING* mac_salt = nullptr;
    const ASN1_INTEGER* mac_iter = nullptr;
    PKCS12_get0_mac(&mac, &mac_alg, &mac_salt, &mac_iter, p12.get());
    REQUIRE(mac_iter != nullptr);
    CHECK(ASN1_INTEGER_get(mac_iter) >= 600000);
    const ASN1_OBJECT* mac_md = nullptr;
    X509_ALGOR_get0(&mac_md, nullptr, nullptr, mac_alg);
    CHECK(OBJ_obj2nid(mac_md) == NID_sha256);
    // The shrouded key bag: PBES2 with PBKDF2.
    STACK_OF(PKCS7)* safes = PKCS12_unpack_authsafes(p12.get());
    REQUIRE(safes != nullptr);
    long key_iter = 0;
    int cipher = NID_undef;
    for (int i = 0; i < sk_PKCS7_num(safes); ++i) {
        PKCS7* safe = sk_PKCS7_value(safes, i);
        if (OBJ_obj2nid(safe->type) != NID_pkcs7_data) continue;
        STACK_OF(PKCS12_SAFEBAG)* bags = PKCS12_unpack_p7data(safe);
        for (int j = 0; bags && j < sk_PKCS12_SAFEBAG_num(bags); ++j) {
            const PKCS12_SAFEBAG* bag = sk_PKCS12_SAFEBAG_value(bags, j);
            if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag) continue;
            const X509_ALGOR* alg = nullptr;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, nullptr);
            const ASN1_OBJECT* oid = nullptr;
            const void* param = nullptr;
            int ptype = 0;
            X509_ALGOR_get0(&oid, &ptype, &param, alg);
            REQUIRE(OBJ_obj2nid(oid) == NID_pbes2);
            PBE2PARAM* pbe2 = static_cast<PBE2PARAM*>(
                ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter));
            REQUIRE(pbe2 != nullptr);
            cipher = OBJ_obj2nid(pbe2->encryption->algorithm);
            PBKDF2PARAM* kdf = static_cast<PBKDF2PARAM*>(
                ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter));
            REQUIRE(kdf != nullptr);
            key_iter = ASN1_INTEGER_get(kdf->iter);
            PBKDF2PARAM_free(kdf);
            PBE2PARAM_free(pbe2);
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    CHECK(key_iter >= 600000);
    CHECK(cipher == NID_aes_256_cbc);
    CHECK(pkcs12::read(backup, SecureString("backup password")).fingerprint == fp);
    std::filesystem::remove_all(root);
}
