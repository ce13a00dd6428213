// SPDX-License-Identifier: MIT
// Key store tests with real host processes: the protocol operations, several processes writing
// one store at once, a process killed mid-import, and a search for leaked private key bytes.
#include "e2e/host_process.h"
#include "keystore/keystore.h"
#include "support/pki.h"
#include "util/base64.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

using namespace smime;
using namespace smime::test;

namespace {

json import_request(int id, const std::string& p12, const std::string& password) {
    return {{"id", id},
            {"op", "identities.import"},
            {"args", {{"pkcs12", base64::encode(p12)}, {"password", password}}}};
}

struct StoreCheck {
    bool integrity_ok = false;
    std::int64_t identities = 0, certificates = 0, orphans = 0;
};

// Opens the store file directly, as a separate reader would.
StoreCheck check_store(const std::filesystem::path& home) {
    StoreCheck out;
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((home / KeyStore::kFileName).c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr) == SQLITE_OK);
    auto scalar = [&](const char* sql) -> std::string {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
        std::string v;
        if (sqlite3_step(st) == SQLITE_ROW)
            v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
    };
    out.integrity_ok = scalar("PRAGMA integrity_check") == "ok";
    if (scalar("SELECT count(*) FROM sqlite_master WHERE name = 'identities'") == "0") {
        sqlite3_close(db);  // killed before the schema was committed: an empty, valid store
        return out;
    }
    out.identities = std::stoll(scalar("SELECT count(*) FROM identities"));
    out.certificates = std::stoll(scalar("SELECT count(*) FROM certificates"));
    // An identity without its certificate or addresses would be a half-written import.
    out.orphans =
        std::stoll(scalar("SELECT count(*) FROM identities i WHERE NOT EXISTS (SELECT 1 FROM "
                          "certificates c WHERE c.fingerprint = "
                          "i.fingerprint) OR NOT EXISTS (SELECT 1 FROM certificate_emails e WHERE "
                          "e.fingerprint = i.fingerprint)"));
    sqlite3_close(db);
    return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("key store operations over the protocol") {
    const auto home = make_temp_dir("ks-proto");
    HostProcess host(home);
    json r = host.request(import_request(1, test_key("thunderbird/Bob.p12"), "nss"));
    REQUIRE(r["ok"] == true);
    const std::string fp = r["result"]["fingerprint"];
    CHECK(r["result"]["emails"] == json::array({"bob@example.com"}));

    r = host.request(import_request(2, test_key("thunderbird/Bob.p12"), "Tr0ub4dor&3"));
    CHECK(r["error"]["code"] == "ERR_BAD_PASSWORD");
    CHECK_FALSE(contains(r.dump(), "Tr0ub4dor"));  // the password is not echoed
    r = host.request({{"id", 3},
                      {"op", "identities.import"},
                      {"args", {{"pkcs12", "AAAA"}, {"password", "x"}}}});
    CHECK(r["error"]["code"] == "ERR_BAD_PKCS12");
    r = host.request({{"id", 4}, {"op", "identities.import"}, {"args", {{"password", "x"}}}});
    CHECK(r["error"]["code"] == "ERR_BAD_REQUEST");

    r = host.request({{"id", 5}, {"op", "identities.list"}});
    REQUIRE(r["result"]["identities"].size() == 1);
    r = host.request(
        {{"id", 6}, {"op", "identities.export_certificate"}, {"args", {{"fingerprint", fp}}}});
    CHECK(contains(r["result"]["pem"], "BEGIN CERTIFICATE"));
    r = host.request({{"id", 7},
                      {"op", "recipients.status"},
                      {"args", {{"addresses", {"bob@example.com", "x@y.z"}}}}});
    CHECK(r["result"]["recipients"][0]["can_encrypt"] == true);
    CHECK(r["result"]["recipients"][1]["can_encrypt"] == false);
    r = host.request({{"id", 8},
                      {"op", "identities.backup"},
                      {"args", {{"fingerprint", fp}, {"password", "12345678"}}}});
    CHECK(r["error"]["code"] == "ERR_UNKNOWN_OP");  // backups are a command-line matter only
    r = host.request({{"id", 9}, {"op", "hello"}});
    for (const auto& op : r["result"]["operations"]) CHECK(op != "identities.backup");

    r = host.request({{"id", 10},
                      {"op", "keystore.set_passphrase"},
                      {"args", {{"new_passphrase", "s3cret passphrase"}}}});
    CHECK(r["result"]["protected"] == true);
    r = host.request({{"id", 11}, {"op", "keystore.lock"}});
    r = host.request({{"id", 12}, {"op", "keystore.status"}});
    CHECK(r["result"]["protected"] == true);
    CHECK(r["result"]["unlocked"] == false);
    r = host.request({{"id", 13}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "nope"}}}});
    CHECK(r["error"]["code"] == "ERR_BAD_PASSPHRASE");
    r = host.request(
        {{"id", 14}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "s3cret passphrase"}}}});
    CHECK(r["result"]["unlocked"] == true);
    r = host.request({{"id", 15}, {"op", "identities.delete"}, {"args", {{"fingerprint", fp}}}});
    CHECK(r["result"]["deleted"] == fp);
    r = host.request({{"id", 16}, {"op", "identities.delete"}, {"args", {{"fingerprint", fp}}}});
    CHECK(r["error"]["code"] == "ERR_NOT_FOUND");
    CHECK_FALSE(contains(host.stderr_text(), "s3cret"));
    std::filesystem::remove_all(home);
}

TEST_CASE("the command line imports with the password from a file and backs up") {
    const auto home = make_temp_dir("ks-cli");
    const auto p12 = home / "alice.p12";
    { std::ofstream(p12, std::ios::binary) << test_key("thunderbird/Alice.p12"); }
    { std::ofstream(home / "pw") << "nss\n"; }
    { std::ofstream(home / "backup-pw") << "backup password\n"; }
    const std::string bin = SMIME_HOST_BINARY_FOR_CLI;
    const std::string env = "SMIME_HOST_HOME='" + (home / "store").string() + "' ";
    CHECK(std::system((env + bin + " import --in " + p12.string() + " --password-file " +
                       (home / "pw").string() + " > " + (home / "out.json").string())
                          .c_str()) == 0);
    const json imported = json::parse(read_file((home / "out.json").string()));
    const std::string fp = imported["fingerprint"];
    CHECK(std::system((env + bin + " backup --fingerprint " + fp + " --password-file " +
                       (home / "backup-pw").string() + " --out " + (home / "backup.p12").string() +
                       " </dev/null")
                          .c_str()) == 0);
    CHECK(std::system(("openssl pkcs12 -in " + (home / "backup.p12").string() +
                       " -passin pass:'backup password' -noout 2>/dev/null")
                          .c_str()) == 0);
    // A password on the command line itself is refused.
    CHECK(std::system((env + bin + " import --in " + p12.string() + " --password nss 2>/dev/null")
                          .c_str()) != 0);

    // With a passphrase the store starts locked: decrypt unlocks from the file and retries with
    // the whole message (decryption consumes its input, so the retry must not see it empty).
    { std::ofstream(home / "pass") << "correct horse\n"; }
    {
        std::ofstream(home / "msg.eml")
            << "From: alice@example.com\r\nTo: alice@example.com\r\nSubject: s\r\n\r\nSecret "
               "words.\r\n";
    }
    CHECK(std::system((env + bin + " passphrase --new-passphrase-file " + (home / "pass").string() +
                       " >/dev/null")
                          .c_str()) == 0);
    CHECK(std::system((env + bin + " encrypt --in " + (home / "msg.eml").string() + " --out " +
                       (home / "enc.eml").string() + " >/dev/null")
                          .c_str()) == 0);
    CHECK(std::system((env + bin + " decrypt --in " + (home / "enc.eml").string() + " --out " +
                       (home / "dec.eml").string() + " --passphrase-file " +
                       (home / "pass").string() + " >/dev/null 2>&1")
                          .c_str()) == 0);
    CHECK(read_file((home / "dec.eml").string()).find("Secret words.") != std::string::npos);
    std::filesystem::remove_all(home);
}

TEST_CASE("eight processes importing and harvesting into one store at once lose nothing") {
    const auto home = make_temp_dir("ks-concurrent");
    constexpr int kProcesses = 8, kCertsEach = 25;
    const auto pki = TestPki::make();
    // Each process gets its own identity and its own batch of correspondents' certificates.
    std::vector<std::string> p12s;
    std::vector<std::vector<std::string>> certs(kProcesses);
    for (int p = 0; p < kProcesses; ++p) {
        auto key = make_ec_key("P-256");
        auto cert = pki.issue_ec(key.get(), "User " + std::to_string(p),
                                 "user" + std::to_string(p) + "@example.org");
        p12s.push_back(make_pkcs12(key.get(), cert.get(), {pki.ca.get()}, "pw"));
        for (int c = 0; c < kCertsEach; ++c) {
            auto ck = make_ec_key("P-256");
            auto cc =
                pki.issue_ec(ck.get(), "Peer",
                             "peer" + std::to_string(p) + "-" + std::to_string(c) + "@example.net");
            certs[p].push_back(pem_of(cc.get()));
        }
    }
    std::vector<std::unique_ptr<HostProcess>> hosts;
    for (int p = 0; p < kProcesses; ++p) hosts.push_back(std::make_unique<HostProcess>(home));
    // Write everything first so the processes really run side by side, then collect replies.
    for (int p = 0; p < kProcesses; ++p) {
        std::string batch = frame_bytes(import_request(0, p12s[p], "pw").dump());
        for (int c = 0; c < kCertsEach; ++c)
            batch += frame_bytes(json({{"id", c + 1},
                                       {"op", "certificates.import"},
                                       {"args", {{"certificate", certs[p][c]}}}})
                                     .dump());
        hosts[p]->write_raw(batch);
    }
    int failures = 0;
    for (int p = 0; p < kProcesses; ++p)
        for (int c = 0; c <= kCertsEach; ++c) {
            const json reply = hosts[p]->read_json(std::chrono::seconds(60));
            if (reply["ok"] != true) {
                ++failures;
                MESSAGE("process " << p << ": " << reply.dump());
            }
        }
    CHECK(failures == 0);
    hosts.clear();
    const StoreCheck check = check_store(home / "");
    CHECK(check.integrity_ok);
    CHECK(check.identities == kProcesses);
    CHECK(check.orphans == 0);
    // Each identity certificate, the CA, and every correspondent.
    CHECK(check.certificates == kProcesses + 1 + kProcesses * kCertsEach);
    std::filesystem::remove_all(home);
}

TEST_CASE("a host killed with SIGKILL in the middle of imports leaves a whole store") {
    const auto home = make_temp_dir("ks-kill");
    const auto pki = TestPki::make();
    std::mt19937 rng(7);
    {
        HostProcess create(home);
        create.request({{"id", 1}, {"op", "keystore.status"}});
    }
    for (int round = 0; round < 6; ++round) {
        std::vector<std::string> batch;
        for (int i = 0; i < 6; ++i) {
            // Alternate RSA and EC identities; EC keeps the key generation quick.
            auto key = i == 0 ? make_rsa_key(2048) : make_ec_key("P-256");
            auto cert = make_cert(
                key.get(),
                {"K",
                 {"k" + std::to_string(round * 10 + i) + "@example.org"},
                 false,
                 -1,
                 365,
                 i == 0 ? "digitalSignature,keyEncipherment" : "digitalSignature,keyAgreement",
                 "emailProtection"},
                pki.ca.get(), pki.ca_key.get());
            batch.push_back(frame_bytes(
                import_request(i, make_pkcs12(key.get(), cert.get(), {pki.ca.get()}, "pw"), "pw")
                    .dump()));
        }
        HostProcess host(home);
        std::string all;
        for (const auto& b : batch) all += b;
        host.write_raw(all);
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
        ::kill(host.pid(), SIGKILL);
        host.wait_exit(std::chrono::seconds(5));
        const StoreCheck check = check_store(home);
        CHECK(check.integrity_ok);
        CHECK(check.orphans == 0);
    }
    // And the store still works for the next process.
    HostProcess after(home);
    CHECK(after.request({{"id", 1}, {"op", "identities.list"}})["ok"] == true);
    std::filesystem::remove_all(home);
}

TEST_CASE("no private key bytes in the database, the replies or stderr") {
    const auto home = make_temp_dir("ks-secret");
    const auto pki = TestPki::make();
    const std::string key_der = der_of_key(pki.rsa_key.get());
    const std::string key_pem = pem_of_key(pki.rsa_key.get());
    // The key's PKCS#8 body without the version header, and a long run from the middle.
    const std::string needle_der = key_der.substr(key_der.size() / 2, 64);
    const std::string needle_pem_line = key_pem.substr(key_pem.find('\n') + 1, 64);
    std::string replies;
    {
        HostProcess host(home, {}, {{"SMIME_HOST_LOG", "debug"}});
        const std::string p12 =
            make_pkcs12(pki.rsa_key.get(), pki.rsa_cert.get(), {pki.ca.get()}, "pw");
        for (const json& req :
             {import_request(1, p12, "pw"), json{{"id", 2}, {"op", "identities.list"}},
              json{{"id", 3}, {"op", "keystore.status"}},
              json{{"id", 4},
                   {"op", "keystore.set_passphrase"},
                   {"args", {{"new_passphrase", "pp"}}}},
              json{{"id", 5}, {"op", "certificates.list"}}}) {
            replies += host.request(req).dump();
        }
        host.close_stdin();
        // Exit status 0 also means no leak report when built with the sanitizers.
        CHECK(host.wait_exit(std::chrono::seconds(10)) == 0);
        const std::string err = host.stderr_text();
        CHECK_FALSE(contains(err, needle_der));
        CHECK_FALSE(contains(err, needle_pem_line));
    }
    CHECK_FALSE(contains(replies, needle_der));
    CHECK_FALSE(contains(replies, needle_pem_line));
    CHECK_FALSE(contains(replies, base64::encode(key_der).substr(100, 64)));
    for (const auto& entry : std::filesystem::recursive_directory_iterator(home)) {
        if (!entry.is_regular_file()) continue;
        const std::string bytes = read_file(entry.path().string());
        CAPTURE(entry.path().filename().string());
        CHECK_FALSE(contains(bytes, needle_der));
        CHECK_FALSE(contains(bytes, needle_pem_line));
    }
    std::filesystem::remove_all(home);
}

TEST_CASE(
    "a process unlocked before another changed the passphrase cannot seal a key under its stale "
    "key") {
    const auto home = make_temp_dir("ks-stale");
    const auto pki = TestPki::make();
    HostProcess a(home), b(home);
    REQUIRE(a.request({{"id", 1},
                       {"op", "keystore.set_passphrase"},
                       {"args", {{"new_passphrase", "one"}}}})["ok"] == true);
    REQUIRE(b.request(
                {{"id", 1}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "one"}}}})["ok"] ==
            true);
    REQUIRE(a.request({{"id", 2},
                       {"op", "keystore.set_passphrase"},
                       {"args", {{"new_passphrase", "two"}, {"old_passphrase", "one"}}}})["ok"] ==
            true);
    const std::string p12 = make_pkcs12(pki.ec_key.get(), pki.ec_cert.get(), {pki.ca.get()}, "pw");
    json r = b.request(import_request(2, p12, "pw"));
    CHECK(r["error"]["code"] == "ERR_LOCKED");
    CHECK(b.request({{"id", 3}, {"op", "keystore.status"}})["result"]["unlocked"] == false);
    REQUIRE(b.request(
                {{"id", 4}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "two"}}}})["ok"] ==
            true);
    r = b.request(import_request(5, p12, "pw"));
    REQUIRE(r["ok"] == true);
    // The key opens under the current passphrase: a third process signs with it, and the
    // passphrase can change again.
    HostProcess c(home);
    REQUIRE(c.request(
                {{"id", 1}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "two"}}}})["ok"] ==
            true);
    const std::string mail =
        "From: bob@example.org\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nhello\r\n";
    r = c.request({{"id", 2}, {"op", "message.sign"}, {"args", {{"mime", base64::encode(mail)}}}});
    CHECK(r["ok"] == true);
    r = c.request({{"id", 3},
                   {"op", "keystore.set_passphrase"},
                   {"args", {{"new_passphrase", "three"}, {"old_passphrase", "two"}}}});
    CHECK(r["ok"] == true);
    std::filesystem::remove_all(home);
}

TEST_CASE("unlock throttling holds across processes: parallel guessers do not multiply the rate") {
    const auto home = make_temp_dir("ks-throttle");
    {
        HostProcess setup(home);
        REQUIRE(setup.request({{"id", 1},
                               {"op", "keystore.set_passphrase"},
                               {"args", {{"new_passphrase", "right"}}}})["ok"] == true);
    }
    constexpr int kProcesses = 4, kGuesses = 6;
    std::vector<std::unique_ptr<HostProcess>> hosts;
    for (int p = 0; p < kProcesses; ++p) hosts.push_back(std::make_unique<HostProcess>(home));
    for (int p = 0; p < kProcesses; ++p) {
        std::string batch;
        for (int g = 0; g < kGuesses; ++g)
            batch += frame_bytes(json({{"id", g},
                                       {"op", "keystore.unlock"},
                                       {"args", {{"passphrase", "guess" + std::to_string(g)}}}})
                                     .dump());
        hosts[p]->write_raw(batch);
    }
    int tried = 0, throttled = 0;
    long long retry_after = 0;
    for (int p = 0; p < kProcesses; ++p)
        for (int g = 0; g < kGuesses; ++g) {
            const json reply = hosts[p]->read_json(std::chrono::seconds(60));
            const std::string code = reply["error"]["code"];
            if (code == "ERR_BAD_PASSPHRASE") ++tried;
            if (code == "ERR_THROTTLED") {
                ++throttled;
                retry_after = reply["error"]["details"]["retry_after_ms"].get<long long>();
                CHECK(retry_after > 0);
                CHECK(retry_after <= 8000);
            }
        }
    // 24 guesses were sent; only the first three and one per elapsed delay were tried.
    CHECK(tried + throttled == kProcesses * kGuesses);
    CHECK(tried <= 10);
    // The right passphrase is also held back while the delay runs, then works and resets it.
    json r = hosts[0]->request(
        {{"id", 100}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "right"}}}});
    if (r["ok"] != true) {
        REQUIRE(r["error"]["code"] == "ERR_THROTTLED");
        std::this_thread::sleep_for(std::chrono::milliseconds(
            r["error"]["details"]["retry_after_ms"].get<long long>() + 50));
        r = hosts[0]->request(
            {{"id", 101}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "right"}}}});
    }
    CHECK(r["ok"] == true);
    r = hosts[1]->request(
        {{"id", 102}, {"op", "keystore.unlock"}, {"args", {{"passphrase", "wrong"}}}});
    CHECK(r["error"]["code"] == "ERR_BAD_PASSPHRASE");  // the count starts again
    std::filesystem::remove_all(home);
}

TEST_CASE("over the protocol, a locked store refuses identities.delete and trust anchors") {
    const auto home = make_temp_dir("ks-locked-ops");
    const auto pki = TestPki::make();
    std::string fp;
    {
        HostProcess setup(home);
        fp = setup.request(
            import_request(1, make_pkcs12(pki.ec_key.get(), pki.ec_cert.get(), {}, "pw"),
                           "pw"))["result"]["fingerprint"];
        REQUIRE(setup.request({{"id", 2},
                               {"op", "keystore.set_passphrase"},
                               {"args", {{"new_passphrase", "pp"}}}})["ok"] == true);
    }
    HostProcess host(home);
    json r =
        host.request({{"id", 1}, {"op", "identities.delete"}, {"args", {{"fingerprint", fp}}}});
    CHECK(r["error"]["code"] == "ERR_LOCKED");
    r = host.request({{"id", 2},
                      {"op", "certificates.import"},
                      {"args", {{"certificate", pem_of(pki.ca.get())}, {"trust_anchor", true}}}});
    CHECK(r["error"]["code"] == "ERR_LOCKED");
    CHECK(host.request({{"id", 3}, {"op", "identities.list"}})["result"]["identities"].size() == 1);
    std::filesystem::remove_all(home);
}
