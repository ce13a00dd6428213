// SPDX-License-Identifier: MIT
// The message operations through real host processes, each user with a store of their own.
#include "e2e/host_process.h"
#include "support/files.h"
#include "util/base64.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

using namespace smime;
using namespace smime::test;

namespace {

// One user: a host process over a store of their own.
struct User {
    std::filesystem::path home;
    std::unique_ptr<HostProcess> host;
    int id = 1;
    explicit User(const std::string& tag)
        : home(make_temp_dir(tag)), host(std::make_unique<HostProcess>(home)) {}
    ~User() {
        host.reset();
        std::filesystem::remove_all(home);
    }
    json call(const std::string& op, json args = json::object()) {
        return host->request({{"id", id++}, {"op", op}, {"args", std::move(args)}});
    }
    void import(const std::string& p12) {
        REQUIRE(call("identities.import", {{"pkcs12", base64::encode(test_key(p12))},
                                           {"password", "nss"}})["ok"] == true);
    }
    void trust_test_ca() {
        REQUIRE(call("certificates.import", {{"certificate", test_key("thunderbird/TestCA.pem")},
                                             {"trust_anchor", true}})["ok"] == true);
    }
    // Sends `mime` chunked, as an extension does for large mail; returns the reply and its payload.
    json with_mime(const std::string& op, const std::string& mime, json args, std::string* out) {
        return host->call_with_payload({{"id", id++}, {"op", op}, {"args", std::move(args)}},
                                       "mime", mime, 768000, out, "mime");
    }
};

std::string code(const json& reply) {
    return reply.value("ok", false) ? "ok" : reply["error"]["code"].get<std::string>();
}

std::string message(const std::string& headers, std::size_t attachment_bytes = 0) {
    std::string m =
        headers +
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße aus dem Test.\r\n"
        "--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
        "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
        "filename=\"data.bin\"\r\n\r\n";
    std::string raw(attachment_bytes, '\0');
    for (std::size_t i = 0; i < raw.size(); ++i)
        raw[i] = static_cast<char>((i * 2654435761u) >> 11);
    const std::string b64 = base64::encode(raw);
    for (std::size_t i = 0; i < b64.size(); i += 76) m += b64.substr(i, 76) + "\r\n";
    return m + "--b1--\r\n";
}

}  // namespace

TEST_CASE(
    "a message to sign that arrives in many small chunks is digested on the side as it "
    "arrives: the signature is good; an upload cut short ends cleanly") {
    User alice("msg-small-chunks");
    alice.import("thunderbird/Alice.p12");
    alice.trust_test_ca();
    // Chunks of 997 bytes: the header ends inside one, the body's lines straddle all of them.
    const std::string mail = message(
        "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: chunks\r\n", 300000);
    std::string signed_mail, content;
    const json s = alice.host->call_with_payload(
        {{"id", alice.id++}, {"op", "message.sign"}, {"args", json::object()}}, "mime", mail, 997,
        &signed_mail, "mime");
    REQUIRE(code(s) == "ok");
    const json v = alice.with_mime("message.verify", signed_mail, json::object(), &content);
    REQUIRE(code(v) == "ok");
    CHECK(v["result"]["status"]["signatures"][0]["verdict"] == "good");

    // Half of the chunks, then one out of order: the request is refused while its digest is on
    // its way, and the host goes on serving.
    const std::string frames = HostProcess::payload_frames(
        {{"id", "cut"}, {"op", "message.sign"}, {"args", json::object()}}, "mime", mail, 997);
    std::size_t at = 0;
    for (int frame = 0; frame < 1 + 150; ++frame) {
        std::uint32_t length = 0;
        std::memcpy(&length, frames.data() + at, 4);
        at += 4 + length;
    }
    alice.host->write_raw(frames.substr(0, at));
    alice.host->send({{"id", "cut"}, {"chunk", 999}, {"data", "AAAA"}});
    const json refused = alice.host->read_json();
    CHECK(refused["id"] == "cut");
    CHECK(code(refused) == "ERR_BAD_REQUEST");
    CHECK(code(alice.call("hello")) == "ok");

    // A payload short enough to live inside the upload's own record (no heap block): it is handed
    // to the request only once its digest on the side is done with it.
    for (const std::size_t size : {1u, 7u, 13u, 22u}) {
        const json tiny = alice.host->call_with_payload(
            {{"id", alice.id++}, {"op", "message.sign"}, {"args", json::object()}}, "mime",
            std::string(size, 'x'), 3, nullptr, "mime");
        CHECK(code(tiny) != "ok");
        CHECK(code(tiny) != "ERR_INTERNAL");
    }
    CHECK(code(alice.call("hello")) == "ok");

    // A longer payload is handed over while its digest on the side may still run; a handler that
    // fails at once (no identity for this From) ends the request, whose observer finishes before
    // the payload goes. Then a good signature on the same connection.
    for (int round = 0; round < 3; ++round) {
        const json none = alice.with_mime(
            "message.sign",
            message("From: Nobody <nobody@example.com>\r\nTo: bob@example.com\r\nSubject: x\r\n",
                    2000000),
            json::object(), nullptr);
        CHECK(code(none) == "ERR_NO_IDENTITY");
    }
    const json again = alice.with_mime("message.sign", mail, json::object(), &signed_mail);
    REQUIRE(code(again) == "ok");
    CHECK(code(alice.with_mime("message.verify", signed_mail, json::object(), &content)) == "ok");
}

TEST_CASE("a large signed message round-trips through the chunked path and verifies as good") {
    User alice("msg-alice");
    alice.import("thunderbird/Alice.p12");
    alice.trust_test_ca();
    const std::string mail = message(
        "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: big\r\n", 3 << 20);
    std::string signed_mail, content;
    const json s = alice.with_mime("message.sign", mail, json::object(), &signed_mail);
    REQUIRE(code(s) == "ok");
    CHECK(signed_mail.find("multipart/signed") != std::string::npos);
    const json v = alice.with_mime("message.verify", signed_mail, json::object(), &content);
    REQUIRE(code(v) == "ok");
    CHECK(v["result"]["status"]["level"] == "signed");
    CHECK(v["result"]["status"]["signatures"][0]["verdict"] == "good");
    CHECK(content.find("data.bin") != std::string::npos);

    // One changed byte in the attachment: bad_signature.
    std::string tampered = signed_mail;
    const auto pos = tampered.find("data.bin\"\r\n\r\n") + 20;
    tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
    const json bad = alice.with_mime("message.verify", tampered, json::object(), &content);
    CHECK(bad["result"]["status"]["signatures"][0]["verdict"] == "bad_signature");
}

TEST_CASE(
    "signed mail teaches the recipient's store the sender's certificate, so the reply can be "
    "encrypted") {
    User alice("msg-alice2"), bob("msg-bob2");
    alice.import("thunderbird/Alice.p12");
    bob.import("thunderbird/Bob.p12");
    CHECK(bob.call("recipients.status",
                   {{"addresses",
                     {"alice@example.com"}}})["result"]["recipients"][0]["can_encrypt"] == false);
    std::string signed_mail, ignored;
    REQUIRE(code(alice.with_mime("message.sign",
                                 message("From: alice@example.com\r\nTo: bob@example.com\r\n"),
                                 json::object(), &signed_mail)) == "ok");
    REQUIRE(code(bob.with_mime("message.verify", signed_mail, json::object(), &ignored)) == "ok");
    const json status = bob.call("recipients.status", {{"addresses", {"alice@example.com"}}});
    CHECK(status["result"]["recipients"][0]["can_encrypt"] == true);
    CHECK(status["result"]["recipients"][0]["certificate"]["source"] == "harvested");

    // Bob replies encrypted and signed; Alice decrypts and sees both layers.
    std::string reply_mail, opened;
    const json e =
        bob.with_mime("message.encrypt",
                      message("From: bob@example.com\r\nTo: alice@example.com\r\nSubject: re\r\n"),
                      {{"sign", true}}, &reply_mail);
    REQUIRE(code(e) == "ok");
    CHECK(e["result"]["signed"] == true);
    const json d = alice.with_mime("message.decrypt", reply_mail, json::object(), &opened);
    REQUIRE(code(d) == "ok");
    CHECK(d["result"]["status"]["level"] == "signed+encrypted");
    CHECK(opened.find("Gr=C3=BC=C3=9Fe aus dem Test.") !=
          std::string::npos);  // made 7-bit safe for signing
    // Bob's own copy stays readable for Bob.
    CHECK(code(bob.with_mime("message.decrypt", reply_mail, json::object(), &opened)) == "ok");
}

TEST_CASE("recipients without certificates, Bcc, missing identities, locked keys, bad input") {
    User alice("msg-alice3");
    alice.import("thunderbird/Alice.p12");
    alice.import(
        "thunderbird/Bob.p12");  // Bob's certificate is in Alice's store as an identity here
    std::string out;
    const json missing = alice.with_mime(
        "message.encrypt",
        message("From: alice@example.com\r\nTo: Bob <bob@example.com>, carol@example.org\r\n"),
        json::object(), &out);
    CHECK(code(missing) == "ERR_NO_CERTIFICATE");
    CHECK(missing["error"]["details"]["addresses"] == json::array({"carol@example.org"}));

    alice.import("thunderbird/Dave.p12");
    const json bcc = alice.with_mime(
        "message.encrypt",
        message(
            "From: alice@example.com\r\nTo: bob@example.com\r\nBcc: Dave <dave@example.com>\r\n"),
        json::object(), &out);
    REQUIRE(code(bcc) == "ok");
    CHECK(bcc["result"]["bcc"] == json::array({"dave@example.com"}));
    CHECK(out.find("Bcc:") == std::string::npos);
    CHECK(out.find("dave@example.com") == std::string::npos);

    const json no_identity =
        alice.with_mime("message.sign", message("From: zed@example.net\r\n"), json::object(), &out);
    CHECK(code(no_identity) == "ERR_NO_IDENTITY");
    const json no_from =
        alice.with_mime("message.sign", message("To: bob@example.com\r\n"), json::object(), &out);
    CHECK(code(no_from) == "ERR_BAD_MESSAGE");

    REQUIRE(alice.call("keystore.set_passphrase",
                       {{"new_passphrase", "a long passphrase"}})["ok"] == true);
    alice.call("keystore.lock");
    CHECK(code(alice.with_mime("message.sign", message("From: alice@example.com\r\n"),
                               json::object(), &out)) == "ERR_LOCKED");
    alice.call("keystore.unlock", {{"passphrase", "a long passphrase"}});
    CHECK(code(alice.with_mime("message.sign", message("From: alice@example.com\r\n"),
                               json::object(), &out)) == "ok");

    CHECK(code(alice.with_mime(
              "message.decrypt",
              "From: x@y\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\nMIIBAAAA\r\n",
              json::object(), &out)) == "ERR_BAD_MESSAGE");
    CHECK(code(alice.with_mime("message.sign", message("From: alice@example.com\r\n"),
                               {{"digest", "md5"}}, &out)) == "ERR_POLICY");
}

TEST_CASE("mail encrypted for someone else gives the uniform ERR_DECRYPT_FAILED") {
    User alice("msg-alice4"), eve("msg-eve4");
    alice.import("thunderbird/Alice.p12");
    alice.import("thunderbird/Bob.p12");
    eve.import("thunderbird/Eve.p12");
    std::string encrypted, out;
    REQUIRE(code(alice.with_mime("message.encrypt",
                                 message("From: alice@example.com\r\nTo: bob@example.com\r\n"),
                                 json::object(), &encrypted)) == "ok");
    const json refused = eve.with_mime("message.decrypt", encrypted, json::object(), &out);
    CHECK(code(refused) == "ERR_DECRYPT_FAILED");
    const json inspected = eve.with_mime("message.inspect", encrypted, json::object(), nullptr);
    CHECK(inspected["result"]["status"]["level"] == "encrypted");
    // Every process exits cleanly (under the sanitizers: without a leak report).
    for (User* user : {&alice, &eve}) {
        user->host->close_stdin();
        CHECK(user->host->wait_exit(std::chrono::seconds(10)) == 0);
    }
}

TEST_CASE("addresses are read by one parser: comments, routes and ambiguous lists") {
    User alice("msg-alice5");
    alice.import("thunderbird/Alice.p12");
    alice.import("thunderbird/Bob.p12");
    std::string out;
    // The From address is zed's; an address in a comment does not choose alice's identity.
    CHECK(code(alice.with_mime("message.sign",
                               message("From: zed@example.net (<alice@example.com>)\r\n"),
                               json::object(), &out)) == "ERR_NO_IDENTITY");
    // A display name that looks like an address does not either.
    CHECK(code(alice.with_mime("message.sign",
                               message("From: \"alice@example.com\" <zed@example.net>\r\n"),
                               json::object(), &out)) == "ERR_NO_IDENTITY");
    // Two From fields: which one signs would be a guess.
    CHECK(code(alice.with_mime("message.sign",
                               message("From: alice@example.com\r\nFrom: bob@example.com\r\n"),
                               json::object(), &out)) == "ERR_BAD_MESSAGE");
    // An obsolete route is read as the address it leads to.
    const json routed = alice.with_mime(
        "message.encrypt",
        message("From: Alice <alice@example.com>\r\nTo: <@relay.example:bob@example.com>\r\n"),
        json::object(), &out);
    REQUIRE(code(routed) == "ok");
    CHECK(routed["result"]["recipients"] == json::array({"bob@example.com", "alice@example.com"}));
    // Two addresses without a comma: refused, not one of them silently dropped.
    const json ambiguous = alice.with_mime(
        "message.encrypt",
        message("From: alice@example.com\r\nTo: bob@example.com carol@example.org\r\n"),
        json::object(), &out);
    CHECK(code(ambiguous) == "ERR_BAD_MESSAGE");
    // Groups and folded lists.
    const json grouped =
        alice.with_mime("message.encrypt",
                        message("From: alice@example.com\r\nTo: team: \"Bob, B.\" "
                                "<bob@example.com>;,\r\n undisclosed-recipients:;\r\n"),
                        json::object(), &out);
    REQUIRE(code(grouped) == "ok");
    CHECK(grouped["result"]["recipients"] == json::array({"bob@example.com", "alice@example.com"}));
}

TEST_CASE("hello advertises protocol 2 and header protection") {
    User alice("msg-alice6");
    const json hello = alice.call("hello");
    REQUIRE(code(hello) == "ok");
    CHECK(hello["result"]["protocol"] == 2);
    const json features = hello["result"]["features"];
    REQUIRE(features.is_array());
    CHECK(std::find(features.begin(), features.end(), "protect_headers") != features.end());
    CHECK(std::find(features.begin(), features.end(), "header_protection") != features.end());
}

TEST_CASE(
    "protect_headers through the host: the status reports the protection and the From check") {
    User alice("msg-alice7");
    alice.import("thunderbird/Alice.p12");
    alice.trust_test_ca();
    const std::string mail = message(
        "From: Alice <alice@example.com>\r\nTo: alice@example.com\r\nSubject: secret plans\r\n");
    std::string signed_mail, encrypted, opened;
    REQUIRE(code(alice.with_mime("message.sign", mail, {{"protect_headers", true}},
                                 &signed_mail)) == "ok");
    CHECK(signed_mail.find("hp=\"clear\"") != std::string::npos);
    const json v = alice.with_mime("message.verify", signed_mail, json::object(), &opened);
    REQUIRE(code(v) == "ok");
    CHECK(v["result"]["status"]["header_protection"] ==
          json({{"protected", true}, {"differing_fields", json::array()}}));
    CHECK(v["result"]["status"]["signatures"][0]["from_check"] ==
          json({{"address", "alice@example.com"}, {"problem", nullptr}}));
    CHECK(v["result"]["status"]["signatures"][0]["verdict"] == "good");

    REQUIRE(code(alice.with_mime("message.encrypt", mail,
                                 {{"protect_headers", true}, {"sign", true}}, &encrypted)) == "ok");
    CHECK(encrypted.find("Subject: [...]\r\n") != std::string::npos);
    CHECK(encrypted.find("secret plans") == std::string::npos);
    const json d = alice.with_mime("message.decrypt", encrypted, json::object(), &opened);
    REQUIRE(code(d) == "ok");
    CHECK(d["result"]["status"]["header_protection"] ==
          json({{"protected", true}, {"differing_fields", json::array({"subject"})}}));
    CHECK(d["result"]["status"]["signatures"][0]["verdict"] == "good");
    CHECK(opened.find("Subject: secret plans\r\n") != std::string::npos);
    CHECK(opened.find("[...]") == std::string::npos);

    // A signed message without a From field: the check is not skipped.
    std::string no_from;
    REQUIRE(code(alice.with_mime("message.sign", mail, json::object(), &signed_mail)) == "ok");
    const std::string stripped =
        signed_mail.substr(signed_mail.find("\r\n") + 2);  // drop the From line
    REQUIRE(stripped.find("From:") == std::string::npos);
    const json nf = alice.with_mime("message.verify", stripped, json::object(), &no_from);
    REQUIRE(code(nf) == "ok");
    CHECK(nf["result"]["status"]["signatures"][0]["verdict"] == "address_mismatch");
    CHECK(nf["result"]["status"]["signatures"][0]["from_check"]["problem"] == "no_from");
}

TEST_CASE(
    "automatic key exchange: only a signature matching its From address teaches, "
    "and the choice says whether it is trusted") {
    User alice("msg-alice5"), bob("msg-bob5");
    alice.import("thunderbird/Alice.p12");
    bob.import("thunderbird/Bob.p12");
    const std::string alice_fp =
        alice.call("identities.list")["result"]["identities"][0]["fingerprint"].get<std::string>();
    std::string signed_mail, ignored;

    // Alice's key signs mail that claims to come from carol@: the signature verifies, the address
    // does not.
    REQUIRE(code(alice.with_mime("message.sign",
                                 message("From: carol@example.com\r\nTo: bob@example.com\r\n"),
                                 {{"signer", alice_fp}}, &signed_mail)) == "ok");
    const json mismatch = bob.with_mime("message.verify", signed_mail, json::object(), &ignored);
    REQUIRE(code(mismatch) == "ok");
    const json& signature = mismatch["result"]["status"]["signatures"][0];
    CHECK(signature["verdict"] != "bad_signature");
    CHECK(signature["verdict"] != "good");
    CHECK(signature["signer"]["fingerprint"] == alice_fp);  // the one certificate description
    CHECK_FALSE(signature["signer"].contains("fingerprint_sha256"));
    json status =
        bob.call("recipients.status", {{"addresses", {"alice@example.com", "carol@example.com"}}});
    CHECK(status["result"]["recipients"][0]["can_encrypt"] == false);
    CHECK(status["result"]["recipients"][1]["can_encrypt"] == false);

    // Mail from her own address teaches Bob her certificate: usable, but not verified until he
    // trusts her root.
    REQUIRE(code(alice.with_mime("message.sign",
                                 message("From: alice@example.com\r\nTo: bob@example.com\r\n"),
                                 json::object(), &signed_mail)) == "ok");
    REQUIRE(code(bob.with_mime("message.verify", signed_mail, json::object(), &ignored)) == "ok");
    status = bob.call("recipients.status", {{"addresses", {"alice@example.com"}}});
    json chosen = status["result"]["recipients"][0];
    CHECK(chosen["can_encrypt"] == true);
    CHECK(chosen["certificate"]["fingerprint"] == alice_fp);
    CHECK(chosen["certificate"]["source"] == "harvested");
    CHECK(chosen["certificate"]["trusted"] == false);
    CHECK(chosen["certificate"]["key"]["type"] == "RSA");
    bob.trust_test_ca();
    chosen = bob.call("recipients.status",
                      {{"addresses", {"alice@example.com"}}})["result"]["recipients"][0];
    CHECK(chosen["certificate"]["trusted"] == true);

    // certificates.list pages.
    const json page = bob.call("certificates.list", {{"limit", 1}});
    REQUIRE(code(page) == "ok");
    CHECK(page["result"]["certificates"].size() == 1);
    CHECK(page["result"]["total"].get<int>() >= 3);  // Bob's own, Alice's, the root
    CHECK(code(bob.call("certificates.list", {{"limit", 1001}})) == "ERR_BAD_REQUEST");
    const json hello = bob.call("hello");
    CHECK(hello["result"]["protocol"] == 2);
    CHECK(hello["result"]["features"].size() >= 2);
}

namespace {

// Whether OpenSSL's legacy provider (a shared object) is mapped into a running host.
bool legacy_provider_loaded(int pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    REQUIRE(maps);
    const std::string text((std::istreambuf_iterator<char>(maps)),
                           std::istreambuf_iterator<char>());
    return text.find("legacy.so") != std::string::npos;
}

}  // namespace

TEST_CASE("AES mail is decrypted without the legacy provider; RC2 mail loads it") {
    User alice("msg-alice-legacy");
    alice.import("thunderbird/Alice.p12");
    const std::string mail = message("From: alice@example.com\r\nTo: alice@example.com\r\n");
    std::string encrypted, plain;
    REQUIRE(code(alice.with_mime("message.encrypt", mail, json::object(), &encrypted)) == "ok");
    // The certificate, for openssl to encrypt the same message with RC2.
    const json listed = alice.call("identities.list");
    REQUIRE(listed["ok"] == true);
    const json exported = alice.call(
        "identities.export_certificate",
        {{"fingerprint", listed["result"]["identities"][0]["fingerprint"]}, {"chain", false}});
    REQUIRE(exported["ok"] == true);
    const auto dir = make_temp_dir("msg-legacy-files");
    {
        std::ofstream(dir / "alice.pem") << exported["result"]["pem"].get<std::string>();
        std::ofstream(dir / "mail.eml", std::ios::binary) << mail;
    }
    const std::string openssl =
        "openssl cms -encrypt -rc2 -provider legacy -provider default -in " +
        (dir / "mail.eml").string() + " -out " + (dir / "rc2.eml").string() + " " +
        (dir / "alice.pem").string();
    REQUIRE(std::system(openssl.c_str()) == 0);
    std::ifstream rc2_in(dir / "rc2.eml", std::ios::binary);
    const std::string rc2((std::istreambuf_iterator<char>(rc2_in)),
                          std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir);

    // Each in a fresh host process: what one decryption loads stays loaded.
    alice.host = std::make_unique<HostProcess>(alice.home);
    const json aes = alice.with_mime("message.decrypt", encrypted, json::object(), &plain);
    REQUIRE(code(aes) == "ok");
    CHECK(aes["result"]["status"]["layers"][0]["content_encryption"] == "aes-256-gcm");
    CHECK_FALSE(legacy_provider_loaded(alice.host->pid()));

    alice.host = std::make_unique<HostProcess>(alice.home);
    const json old = alice.with_mime("message.decrypt", rc2, json::object(), &plain);
    REQUIRE(code(old) == "ok");
    CHECK(old["result"]["status"]["layers"][0]["content_encryption"] == "rc2-cbc");
    CHECK(legacy_provider_loaded(alice.host->pid()));
}
