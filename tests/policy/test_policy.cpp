// SPDX-License-Identifier: MIT
// Organisation policy: each key with its allowed and refused cases, a malformed policy, and none.
#include "e2e/host_process.h"
#include "policy/signing.h"
#include "support/files.h"
#include "util/base64.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>

using namespace smime;
using namespace smime::test;

namespace {

const std::string kMessage =
    "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: policy\r\n\r\nHello "
    "under policy.\r\n";

// A host with a store and a policy file of its own; `policy` null means no policy file.
struct Fixture {
    std::filesystem::path dir = make_temp_dir("policy");
    std::filesystem::path policy_file = dir / "policy.json";
    std::unique_ptr<HostProcess> host;
    int next_id = 1;

    explicit Fixture(const std::optional<json>& policy, const std::string& raw = {}) {
        if (policy) std::ofstream(policy_file) << policy->dump(2);
        if (!raw.empty()) std::ofstream(policy_file) << raw;
        host = std::make_unique<HostProcess>(
            dir / "store", std::vector<std::string>{},
            std::map<std::string, std::string>{{"SMIME_HOST_POLICY", policy_file.string()}});
    }
    ~Fixture() {
        host.reset();
        std::filesystem::remove_all(dir);
    }
    json call(const std::string& op, json args = json::object()) {
        return host->request({{"id", next_id++}, {"op", op}, {"args", std::move(args)}});
    }
    json import(const std::string& p12, const std::string& password = "nss") {
        return call("identities.import",
                    {{"pkcs12", base64::encode(test_key(p12))}, {"password", password}});
    }
    json with_mime(const std::string& op, const std::string& mime, json args = json::object()) {
        args["mime"] = base64::encode(mime);
        return call(op, std::move(args));
    }
    static std::string mime_of(const json& reply) {
        std::string out;
        base64::decode_append(reply["result"]["mime"].get<std::string>(), out);
        return out;
    }
};

std::string code(const json& reply) {
    return reply.value("ok", false) ? "ok" : reply["error"]["code"].get<std::string>();
}
std::string verdict(const json& verify_reply) {
    return verify_reply["result"]["status"]["signatures"][0]["verdict"].get<std::string>();
}
bool has_reason(const json& verify_reply, const std::string& reason) {
    for (const auto& r : verify_reply["result"]["status"]["signatures"][0]["reasons"])
        if (r == reason) return true;
    return false;
}

std::string pem_of_test_ca() { return test_key("thunderbird/TestCA.pem"); }

}  // namespace

TEST_CASE("no policy file: everything allowed, and hello says no policy is in force") {
    Fixture f(std::nullopt);
    CHECK(f.call("hello")["result"]["policy"]["in_force"] == false);
    CHECK(code(f.import("thunderbird/Alice.p12")) == "ok");
    CHECK(code(f.with_mime("message.sign", kMessage)) == "ok");
}

TEST_CASE(
    "a malformed policy fails closed for private keys, names the file, and verification still "
    "works") {
    for (const std::string& raw :
         {std::string("{\"enabled\": tru"), std::string("{\"enabeld\": false}"),
          std::string("{\"min_rsa_bits\": \"2048\"}"), std::string("[]"),
          std::string("{\"allowed_digests\": [\"md5\"]}")}) {
        CAPTURE(raw);
        Fixture f(std::nullopt, raw);
        const json hello = f.call("hello");
        CHECK(hello["result"]["policy"]["in_force"] == true);
        CHECK(hello["result"]["policy"]["error"].is_string());
        const json imported = f.import("thunderbird/Alice.p12");
        CHECK(code(imported) == "ERR_POLICY");
        CHECK(imported["error"]["details"]["file"] == f.policy_file.string());
        CHECK(imported["error"]["message"].get<std::string>().find(f.policy_file.string()) !=
              std::string::npos);
        CHECK(code(f.with_mime("message.sign", kMessage)) == "ERR_POLICY");
        CHECK(code(f.with_mime("message.decrypt", kMessage)) == "ERR_POLICY");
        CHECK(code(f.with_mime("message.inspect", kMessage)) == "ok");
        CHECK(code(f.with_mime("message.verify", kMessage)) == "ok");
        CHECK(f.call("keystore.status")["result"]["policy"]["error"].is_string());
    }
}

TEST_CASE("enabled: false turns off import and private-key operations, not verification") {
    json signed_message;
    {
        Fixture setup(std::nullopt);
        setup.import("thunderbird/Alice.p12");
        signed_message = setup.with_mime("message.sign", kMessage);
        REQUIRE(code(signed_message) == "ok");
    }
    Fixture f(json{{"enabled", false}});
    CHECK(f.call("hello")["result"]["policy"]["effective"]["enabled"] == false);
    const json refused = f.import("thunderbird/Alice.p12");
    CHECK(code(refused) == "ERR_POLICY");
    CHECK(refused["error"]["details"]["key"] == "enabled");
    CHECK(code(f.with_mime("message.sign", kMessage)) == "ERR_POLICY");
    CHECK(code(f.with_mime("message.encrypt", kMessage)) == "ERR_POLICY");
    CHECK(code(f.with_mime("message.decrypt", kMessage)) == "ERR_POLICY");
    const json verified = f.with_mime("message.verify", Fixture::mime_of(signed_message));
    CHECK(code(verified) == "ok");
    CHECK(verified["result"]["status"]["level"] == "signed");
    CHECK(code(f.with_mime("message.inspect", Fixture::mime_of(signed_message))) == "ok");

    // A large message to sign, in chunks, is refused on the handler's first line while its digest
    // on the side may still be running: the request ends cleanly, every time.
    std::string large = kMessage;
    large.append(3u << 20, 'x');
    for (int round = 0; round < 20; ++round) {
        const json r = f.host->call_with_payload(
            {{"id", f.next_id++}, {"op", "message.sign"}, {"args", json::object()}}, "mime", large,
            768000, nullptr, "mime");
        CHECK(code(r) == "ERR_POLICY");
    }
    CHECK(code(f.call("hello")) == "ok");
}

TEST_CASE("allowed_domains limits identity import to the organisation's domains") {
    Fixture f(json{{"allowed_domains", {"example.com"}}});
    CHECK(code(f.import("thunderbird/Alice.p12")) == "ok");  // alice@example.com
    const json other = f.call(
        "identities.import",
        {{"pkcs12", base64::encode(test_key("bouncycastle/johndoe.p12"))}, {"password", ""}});
    CHECK(code(other) == "ERR_POLICY");  // john.doe@example.net
    CHECK(other["error"]["details"]["addresses"] == json::array({"john.doe@example.net"}));
}

TEST_CASE(
    "require_signing: encryption without a signature is refused; the extensions see the rule") {
    Fixture f(json{{"require_signing", true}, {"require_encryption_when_possible", true}});
    const json hello = f.call("hello");
    CHECK(hello["result"]["policy"]["effective"]["require_signing"] == true);
    CHECK(hello["result"]["policy"]["effective"]["require_encryption_when_possible"] == true);
    f.import("thunderbird/Alice.p12");
    f.import("thunderbird/Bob.p12");
    const json plain = f.with_mime("message.encrypt", kMessage);
    CHECK(code(plain) == "ERR_POLICY");
    CHECK(plain["error"]["details"]["key"] == "require_signing");
    CHECK(code(f.with_mime("message.encrypt", kMessage, {{"sign", true}})) == "ok");
}

TEST_CASE("trust_anchors from the policy make the organisation's certificates trusted") {
    std::string signed_mime;
    {
        Fixture setup(std::nullopt);
        setup.import("thunderbird/Alice.p12");
        signed_mime = Fixture::mime_of(setup.with_mime("message.sign", kMessage));
        CHECK(verdict(setup.with_mime("message.verify", signed_mime)) == "untrusted");
    }
    Fixture f(json{{"trust_anchors", {pem_of_test_ca()}}});
    CHECK(f.call("hello")["result"]["policy"]["effective"]["trust_anchors"] == 1);
    CHECK(verdict(f.with_mime("message.verify", signed_mime)) == "good");
}

TEST_CASE("allow_user_trust_anchors: false refuses user roots and ignores ones already stored") {
    std::string signed_mime;
    const auto shared = make_temp_dir("policy-shared");
    {
        HostProcess setup(shared / "store");
        const json s = import_alice_and_sign(setup, test_key("thunderbird/Alice.p12"), kMessage);
        signed_mime = Fixture::mime_of(s);
        setup.request({{"id", 3},
                       {"op", "certificates.import"},
                       {"args", {{"certificate", pem_of_test_ca()}, {"trust_anchor", true}}}});
        const json v = setup.request({{"id", 4},
                                      {"op", "message.verify"},
                                      {"args", {{"mime", base64::encode(signed_mime)}}}});
        CHECK(verdict(v) == "good");
    }
    { std::ofstream(shared / "policy.json") << R"({"allow_user_trust_anchors": false})"; }
    HostProcess host(shared / "store", {},
                     {{"SMIME_HOST_POLICY", (shared / "policy.json").string()}});
    const json refused =
        host.request({{"id", 1},
                      {"op", "certificates.import"},
                      {"args", {{"certificate", pem_of_test_ca()}, {"trust_anchor", true}}}});
    CHECK(code(refused) == "ERR_POLICY");
    const json ok = host.request(
        {{"id", 2}, {"op", "certificates.import"}, {"args", {{"certificate", pem_of_test_ca()}}}});
    CHECK(code(ok) == "ok");  // as an ordinary certificate
    const json v = host.request(
        {{"id", 3}, {"op", "message.verify"}, {"args", {{"mime", base64::encode(signed_mime)}}}});
    CHECK(verdict(v) == "untrusted");
    std::filesystem::remove_all(shared);
}

TEST_CASE("the example company policy in docs/policy.md: only its own root, signing required") {
    std::string signed_mime;
    {
        Fixture setup(std::nullopt);
        setup.import("thunderbird/Alice.p12");
        signed_mime = Fixture::mime_of(setup.with_mime("message.sign", kMessage));
    }
    Fixture f(json{{"version", 1},
                   {"allowed_domains", {"example.com"}},
                   {"require_signing", true},
                   {"trust_anchors", {pem_of_test_ca()}},
                   {"allow_user_trust_anchors", false},
                   {"use_system_trust_anchors", false},
                   {"allow_key_backup", false}});
    const json effective = f.call("keystore.status")["result"]["policy"]["effective"];
    CHECK(effective["use_system_trust_anchors"] == false);
    CHECK(effective["require_signing"] == true);
    CHECK(verdict(f.with_mime("message.verify", signed_mime)) == "good");
    CHECK(code(f.import("thunderbird/Alice.p12")) == "ok");
    CHECK(code(f.import("thunderbird/Bob.p12")) == "ok");
    CHECK(code(f.with_mime("message.encrypt", kMessage)) == "ERR_POLICY");
    CHECK(code(f.with_mime("message.encrypt", kMessage, {{"sign", true}})) == "ok");
}

TEST_CASE("min_rsa_bits refuses smaller identity keys and marks their signatures weak") {
    std::string signed_mime;
    {
        Fixture setup(std::nullopt);
        setup.import("thunderbird/Alice.p12");
        signed_mime = Fixture::mime_of(setup.with_mime("message.sign", kMessage));
    }
    Fixture f(json{{"min_rsa_bits", 3072}, {"trust_anchors", {pem_of_test_ca()}}});
    const json refused = f.import("thunderbird/Alice.p12");  // RSA-2048
    CHECK(code(refused) == "ERR_POLICY");
    CHECK(refused["error"]["details"]["key"] == "min_rsa_bits");
    CHECK(code(f.import("thunderbird/Alice-ec.p12")) == "ok");  // EC keys are not RSA
    const json v = f.with_mime("message.verify", signed_mime);
    CHECK(verdict(v) == "weak_algorithm");
}

TEST_CASE("allowed_digests chooses the signing digest and judges others weak") {
    std::string sha256_signed;
    {
        Fixture setup(std::nullopt);
        setup.import("thunderbird/Alice.p12");
        sha256_signed = Fixture::mime_of(setup.with_mime("message.sign", kMessage));
    }
    Fixture f(
        json{{"allowed_digests", {"sha384", "sha512"}}, {"trust_anchors", {pem_of_test_ca()}}});
    f.import("thunderbird/Alice.p12");
    const json s = f.with_mime("message.sign", kMessage);
    REQUIRE(code(s) == "ok");
    CHECK(Fixture::mime_of(s).find("micalg=sha-384") != std::string::npos);
    CHECK(verdict(f.with_mime("message.verify", Fixture::mime_of(s))) == "good");
    const json refused = f.with_mime("message.sign", kMessage, {{"digest", "sha256"}});
    CHECK(code(refused) == "ERR_POLICY");
    const json v = f.with_mime("message.verify", sha256_signed);
    CHECK(verdict(v) == "weak_algorithm");
}

TEST_CASE("allowed_content_encryption restricts the algorithm of mail we encrypt") {
    {
        // Bob has advertised nothing, so only AES-CBC can reach him; the policy allows only GCM.
        Fixture f(json{{"allowed_content_encryption", {"aes256-gcm"}}});
        f.import("thunderbird/Alice.p12");
        f.import("thunderbird/Bob.p12");
        const json refused = f.with_mime("message.encrypt", kMessage);
        CHECK(code(refused) == "ERR_POLICY");
        CHECK(refused["error"]["details"]["key"] == "allowed_content_encryption");
    }
    {
        // Both are our own identities here (they advertise GCM), but the policy allows only CBC.
        Fixture f(json{{"allowed_content_encryption", {"aes256-cbc"}}});
        f.import("thunderbird/Alice.p12");
        f.import("thunderbird/Bob.p12");
        const json encrypted = f.with_mime("message.encrypt", kMessage);
        REQUIRE(code(encrypted) == "ok");
        const std::string mime = Fixture::mime_of(encrypted);
        CHECK(mime.find("smime-type=enveloped-data") != std::string::npos);
        CHECK(mime.find("authEnveloped") == std::string::npos);
    }
}

TEST_CASE("allow_sha1_verification decides whether old SHA-1 signatures are weak") {
    const auto dir = make_temp_dir("policy-sha1");
    // Sign with SHA-1 using the openssl command line, as an old client would have.
    const std::string p12 = std::string(SMIME_TEST_KEYS) + "/thunderbird/Alice.p12";
    { std::ofstream(dir / "msg.txt") << kMessage; }
    const std::string cmd =
        "openssl pkcs12 -in '" + p12 + "' -passin pass:nss -nodes -clcerts -out '" +
        (dir / "alice.pem").string() + "' 2>/dev/null && openssl cms -sign -md sha1 -signer '" +
        (dir / "alice.pem").string() + "' -in '" + (dir / "msg.txt").string() + "' -out '" +
        (dir / "signed.eml").string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string headers = "From: Alice <alice@example.com>\r\n";
    const std::string signed_mime = headers + read_file((dir / "signed.eml").string());
    {
        Fixture strict(json{{"trust_anchors", {pem_of_test_ca()}}});
        const json v = strict.with_mime("message.verify", signed_mime);
        CHECK(has_reason(v, "weak_algorithm"));
    }
    {
        Fixture lenient(
            json{{"trust_anchors", {pem_of_test_ca()}}, {"allow_sha1_verification", true}});
        const json v = lenient.with_mime("message.verify", signed_mime);
        CHECK_FALSE(has_reason(v, "weak_algorithm"));
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("allow_key_backup: false refuses the command-line backup") {
    const auto dir = make_temp_dir("policy-backup");
    { std::ofstream(dir / "pw") << "nss\n"; }
    { std::ofstream(dir / "bpw") << "backup password\n"; }
    { std::ofstream(dir / "alice.p12", std::ios::binary) << test_key("thunderbird/Alice.p12"); }
    { std::ofstream(dir / "deny.json") << R"({"allow_key_backup": false})"; }
    { std::ofstream(dir / "allow.json") << R"({"allow_key_backup": true})"; }
    const std::string bin = SMIME_HOST_BINARY_FOR_CLI;
    const std::string home = "SMIME_HOST_HOME='" + (dir / "store").string() + "' ";
    REQUIRE(std::system((home + bin + " import --in '" + (dir / "alice.p12").string() +
                         "' --password-file '" + (dir / "pw").string() + "' > '" +
                         (dir / "id.json").string() + "'")
                            .c_str()) == 0);
    const std::string fp = json::parse(read_file((dir / "id.json").string()))["fingerprint"];
    const std::string backup = bin + " backup --fingerprint " + fp + " --password-file '" +
                               (dir / "bpw").string() + "' --out '" + (dir / "b.p12").string() +
                               "' 2>'" + (dir / "err").string() + "'";
    CHECK(std::system((home + "SMIME_HOST_POLICY='" + (dir / "deny.json").string() + "' " + backup)
                          .c_str()) != 0);
    CHECK(read_file((dir / "err").string()).find("ERR_POLICY") != std::string::npos);
    CHECK(std::system((home + "SMIME_HOST_POLICY='" + (dir / "allow.json").string() + "' " + backup)
                          .c_str()) == 0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("the command line honours the policy too") {
    const auto dir = make_temp_dir("policy-cli");
    { std::ofstream(dir / "off.json") << R"({"enabled": false})"; }
    { std::ofstream(dir / "pw") << "nss\n"; }
    { std::ofstream(dir / "alice.p12", std::ios::binary) << test_key("thunderbird/Alice.p12"); }
    const std::string cmd = "SMIME_HOST_HOME='" + (dir / "store").string() +
                            "' SMIME_HOST_POLICY='" + (dir / "off.json").string() + "' " +
                            SMIME_HOST_BINARY_FOR_CLI + " import --in '" +
                            (dir / "alice.p12").string() + "' --password-file '" +
                            (dir / "pw").string() + "' 2>'" + (dir / "err").string() + "'";
    CHECK(std::system(cmd.c_str()) != 0);
    CHECK(read_file((dir / "err").string()).find("ERR_POLICY") != std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE(
    "backup is a private-key operation: refused with enabled: false and with a malformed policy") {
    const auto dir = make_temp_dir("policy-backup-off");
    { std::ofstream(dir / "pw") << "nss\n"; }
    { std::ofstream(dir / "bpw") << "backup password\n"; }
    { std::ofstream(dir / "alice.p12", std::ios::binary) << test_key("thunderbird/Alice.p12"); }
    { std::ofstream(dir / "off.json") << R"({"enabled": false})"; }
    { std::ofstream(dir / "broken.json") << R"({"enabled": tru)"; }
    {
        std::ofstream(dir / "dup.json")
            << R"({"allow_key_backup": false, "allow_key_backup": true})";
    }
    const std::string bin = SMIME_HOST_BINARY_FOR_CLI;
    const std::string home = "SMIME_HOST_HOME='" + (dir / "store").string() + "' ";
    REQUIRE(std::system((home + bin + " import --in '" + (dir / "alice.p12").string() +
                         "' --password-file '" + (dir / "pw").string() + "' > '" +
                         (dir / "id.json").string() + "'")
                            .c_str()) == 0);
    const std::string fp = json::parse(read_file((dir / "id.json").string()))["fingerprint"];
    for (const char* policy : {"off.json", "broken.json", "dup.json"}) {
        CAPTURE(policy);
        std::filesystem::remove(dir / "b.p12");
        const std::string cmd = home + "SMIME_HOST_POLICY='" + (dir / policy).string() + "' " +
                                bin + " backup --fingerprint " + fp + " --password-file '" +
                                (dir / "bpw").string() + "' --out '" + (dir / "b.p12").string() +
                                "' 2>'" + (dir / "err").string() + "'";
        CHECK(std::system(cmd.c_str()) != 0);
        CHECK(read_file((dir / "err").string()).find("ERR_POLICY") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(dir / "b.p12"));
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("allowed_domains and min_rsa_bits also hold for identities stored before the policy") {
    const auto shared = make_temp_dir("policy-at-use");
    const std::string to_self =
        "From: Alice <alice@example.com>\r\nTo: Alice <alice@example.com>\r\nSubject: "
        "note\r\n\r\nTo myself.\r\n";
    std::string encrypted_mime;
    {
        HostProcess setup(shared / "store");
        setup.request({{"id", 1},
                       {"op", "identities.import"},
                       {"args",
                        {{"pkcs12", base64::encode(test_key("thunderbird/Alice.p12"))},
                         {"password", "nss"}}}});
        const json e =
            setup.request({{"id", 2},
                           {"op", "message.encrypt"},
                           {"args", {{"mime", base64::encode(to_self)}, {"sign", true}}}});
        REQUIRE(code(e) == "ok");
        encrypted_mime = Fixture::mime_of(e);
        const json d = setup.request({{"id", 3},
                                      {"op", "message.decrypt"},
                                      {"args", {{"mime", base64::encode(encrypted_mime)}}}});
        REQUIRE(code(d) == "ok");
    }
    for (const json& policy :
         {json{{"allowed_domains", {"example.net"}}}, json{{"min_rsa_bits", 3072}}}) {
        CAPTURE(policy.dump());
        { std::ofstream(shared / "policy.json", std::ios::trunc) << policy.dump(); }
        HostProcess host(shared / "store", {},
                         {{"SMIME_HOST_POLICY", (shared / "policy.json").string()}});
        const json sign = host.request(
            {{"id", 1}, {"op", "message.sign"}, {"args", {{"mime", base64::encode(kMessage)}}}});
        CHECK(code(sign) == "ERR_POLICY");
        CHECK(sign["error"]["details"]["key"] == policy.begin().key());
        const json decrypt = host.request({{"id", 2},
                                           {"op", "message.decrypt"},
                                           {"args", {{"mime", base64::encode(encrypted_mime)}}}});
        CHECK(code(decrypt) == "ERR_POLICY");
        // Verification needs no private key and still works.
        CHECK(code(host.request({{"id", 3},
                                 {"op", "message.verify"},
                                 {"args", {{"mime", base64::encode(kMessage)}}}})) == "ok");
    }
    std::filesystem::remove_all(shared);
}

TEST_CASE("a policy file the host may not read fails closed") {
    const auto dir = make_temp_dir("policy-unreadable");
    std::filesystem::permissions(dir, std::filesystem::perms::all);  // the host's user may enter it
    // An unreadable file, and a file in a folder the host's user may not search (stat fails).
    std::filesystem::create_directory(dir / "closed");
    { std::ofstream(dir / "closed" / "policy.json") << R"({"enabled": false})"; }
    { std::ofstream(dir / "policy.json") << R"({"enabled": false})"; }
    std::filesystem::permissions(dir / "policy.json", std::filesystem::perms::none);
    std::filesystem::permissions(dir / "closed", std::filesystem::perms::owner_all);
    // Root reads any file: run the host as an ordinary user then.
    std::vector<std::string> launcher;
    if (::geteuid() == 0)
        launcher = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    for (const auto& file : {dir / "policy.json", dir / "closed" / "policy.json"}) {
        CAPTURE(file);
        HostProcess host(dir / "store", {}, {{"SMIME_HOST_POLICY", file.string()}}, launcher);
        const json hello = host.request({{"id", 1}, {"op", "hello"}});
        CHECK(hello["result"]["policy"]["in_force"] == true);
        CHECK(hello["result"]["policy"]["error"].is_string());
    }
    std::filesystem::remove_all(dir);
}
