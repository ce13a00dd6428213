// SPDX-License-Identifier: MIT
// The From check and header protection (RFC 9788) through the engine: who a signature is checked
// against, what the opened message's header says, and what protect_headers writes.
#include "support.h"

#include "engine/signer.h"
#include "mime/entity.h"
#include "util/base64.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace test;

namespace {

const char* const kPlainEntity = "Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n";

// A message with these header fields (each line ending in CRLF), signed by alice as sign() does.
Status alice_signed(const std::string& header_fields) {
    const std::string text = header_fields + "MIME-Version: 1.0\r\n" + kPlainEntity;
    TestKeys keys = TestKeys::with_test_root();
    return verify(sign(text, load_identity("alice")).str(), keys).status;
}

// multipart/signed by `signer` over `entity` as given (it may carry header fields of its own),
// under the outer header fields `outer`.
std::string signed_with_inner(const std::string& outer, const std::string& entity,
                              const std::string& signer = "alice", bool opaque = false) {
    std::string out = outer + "MIME-Version: 1.0\r\n";
    SignOptions options;
    options.opaque = opaque;
    append_signed_entity([&](std::string& target) { target.append(entity); }, entity.size(),
                         load_identity(signer), options, out);
    return out;
}

std::size_t count(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string_view::npos;
         pos = text.find(needle, pos + 1))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("the From check reads the one From mailbox, not the first angle bracket") {
    struct Case {
        const char* fields;
        const char* verdict;
    };
    const Case cases[] = {
        // alice signs, but the address is bob's: the quoted display name and the comment are
        // decoys.
        {"From: \"Alice <alice@example.test>\" <bob@example.test>\r\n", "address_mismatch"},
        {"From: bob@example.test (<alice@example.test>)\r\n", "address_mismatch"},
        {"From: \"alice@example.test\" <bob@example.test>\r\n", "address_mismatch"},
        {"From: =?utf-8?Q?alice=40example.test?= <bob@example.test>\r\n", "address_mismatch"},
        {"From: =?utf-8?B?PGFsaWNlQGV4YW1wbGUudGVzdD4=?= <bob@example.test>\r\n",
         "address_mismatch"},
        // No From, an unparseable one, several fields, several mailboxes, a group: never good.
        {"To: bob@example.test\r\n", "address_mismatch"},
        {"From: not an address\r\n", "address_mismatch"},
        {"From: alice@example.test <bob@example.test>\r\n", "address_mismatch"},
        {"From: <alice@example.test\r\n", "address_mismatch"},
        {"From: alice@example.test\r\nFrom: bob@example.test\r\n", "address_mismatch"},
        {"From: alice@example.test, bob@example.test\r\n", "address_mismatch"},
        {"From: friends: alice@example.test;\r\n", "address_mismatch"},
        // The Sender field is not what RFC 8551 checks.
        {"From: bob@example.test\r\nSender: alice@example.test\r\n", "address_mismatch"},
        // Hard but valid forms of alice's own address.
        {"From: Alice (<bob@example.test>) <alice@example.test>\r\n", "good"},
        {"From: <@relay.example.test:alice@example.test>\r\n", "good"},
        {"From: \"Bob <bob@example.test>\" <alice@example.test>\r\n", "good"},
        {"From: =?utf-8?Q?Bob_=3Cbob=40example.test=3E?= <ALICE@Example.Test>\r\n", "good"},
        {"From: Alice Q. Liddell\r\n <alice@example.test>\r\n", "good"},
        {"From: alice . liddell@example.test\r\n", "address_mismatch"},
        {"From: alice@example.test\r\nSender: bob@example.test\r\n", "good"},
        {"From: \"alice\"@example.test\r\n", "good"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.fields);
        CHECK(verdict(alice_signed(c.fields)) == c.verdict);
    }
}

TEST_CASE("header fields inside the signed content win over the outer ones") {
    const std::string inner_from_bob =
        "From: bob@example.test\r\nSubject: inner\r\nContent-Type: text/plain; "
        "charset=utf-8\r\n\r\nHello.\r\n";
    for (const bool opaque : {false, true}) {
        CAPTURE(opaque);
        TestKeys keys = TestKeys::with_test_root();
        // The outer From says alice, who signed; the signed content says bob: the check uses bob.
        const Opened opened =
            verify(signed_with_inner("From: alice@example.test\r\nSubject: outer\r\n",
                                     inner_from_bob, "alice", opaque),
                   keys);
        CHECK(verdict(opened.status) == "address_mismatch");
        // One set of header fields, the protected ones.
        CHECK(count(opened.joined(), "From:") == 1);
        CHECK(count(opened.joined(), "Subject:") == 1);
        CHECK(opened.joined().find("Subject: inner\r\n") != std::string::npos);
        CHECK(opened.joined().find("From: bob@example.test\r\n") != std::string::npos);
    }
    // The other way round: the outer From was rewritten (a mailing list), the signed one is alice.
    TestKeys keys = TestKeys::with_test_root();
    const Opened opened = verify(
        signed_with_inner("From: list@lists.example.test\r\nTo: bob@example.test\r\n",
                          "From: alice@example.test\r\nContent-Type: text/plain\r\n\r\nHi.\r\n"),
        keys);
    CHECK(verdict(opened.status) == "good");
    CHECK(count(opened.joined(), "From:") == 1);
    // An outer field the inner set does not have is kept.
    CHECK(opened.joined().find("To: bob@example.test\r\n") != std::string::npos);
}

TEST_CASE("from_check names the address and the problem") {
    struct Case {
        const char* fields;
        const char* address;  // "" for null
        const char* problem;  // "" for null
    };
    const Case cases[] = {
        {"From: Alice <alice@example.test>\r\n", "alice@example.test", ""},
        {"From: \"Alice <alice@example.test>\" <bob@example.test>\r\n", "bob@example.test",
         "not_in_certificate"},
        {"To: bob@example.test\r\n", "", "no_from"},
        {"From: alice@example.test\r\nFrom: bob@example.test\r\n", "", "multiple_from_fields"},
        {"From: alice@example.test, bob@example.test\r\n", "", "multiple_mailboxes"},
        {"From: not an address\r\n", "", "unparseable"},
        {"From: friends: alice@example.test;\r\n", "", "unparseable"},
        {"From: alice . liddell@example.test\r\n", "alice.liddell@example.test",
         "not_in_certificate"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.fields);
        const Status status = alice_signed(c.fields);
        REQUIRE(status.signatures.size() == 1);
        const nlohmann::json check = to_json(status)["signatures"][0]["from_check"];
        CHECK(check["address"] ==
              (*c.address ? nlohmann::json(c.address) : nlohmann::json(nullptr)));
        CHECK(check["problem"] ==
              (*c.problem ? nlohmann::json(c.problem) : nlohmann::json(nullptr)));
        CHECK(reasons(status) == (*c.problem ? std::vector<std::string>{"address_mismatch"}
                                             : std::vector<std::string>{}));
    }
}

TEST_CASE("header_protection reports protected content and the outer fields that differ") {
    TestKeys keys = TestKeys::with_test_root();
    // Unprotected: nothing to report.
    Opened plain = verify(sign(message("alice"), load_identity("alice")).str(), keys);
    CHECK(to_json(plain.status)["header_protection"] ==
          nlohmann::json({{"protected", false}, {"differing_fields", nlohmann::json::array()}}));
    // Protected, the outer Subject obscured and a Reply-To added outside.
    const Opened opened = verify(
        signed_with_inner(
            "From: alice@example.test\r\nSubject: [...]\r\nReply-To: mallory@evil.example\r\n"
            "Received: by relay.example.test\r\n",
            "From: alice@example.test\r\nSubject: the real one\r\nHP-Outer: Subject: [...]\r\n"
            "Content-Type: text/plain; hp=\"clear\"\r\n\r\nHi.\r\n"),
        keys);
    CHECK(verdict(opened.status) == "good");
    CHECK(opened.status.header_protection.is_protected);
    CHECK(opened.status.header_protection.differing_fields ==
          std::vector<std::string>{"reply-to", "subject"});
    const std::string& mime = opened.joined();
    CHECK(mime.find("Subject: the real one\r\n") != std::string::npos);
    CHECK(mime.find("[...]") == std::string::npos);  // neither the outer Subject nor HP-Outer
    CHECK(mime.find("Received: by relay.example.test\r\n") != std::string::npos);
    CHECK(count(mime, "From:") == 1);
}

TEST_CASE("protect_headers: sign, encrypt, sign then encrypt, read back") {
    const std::string original =
        "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nCc: "
        "carol@example.test\r\n"
        "Bcc: dave@example.test\r\nSubject: the Jones contract\r\nMessage-ID: <hp@example.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nConfidential.\r\n";
    const Identity alice = load_identity("alice");

    SUBCASE("signed only: hp=\"clear\", the outer fields unchanged") {
        SignOptions options;
        options.protect_headers = true;
        for (const bool opaque : {false, true}) {
            CAPTURE(opaque);
            options.opaque = opaque;
            const std::string text = sign(original, alice, options).str();
            CHECK(text.find("Subject: the Jones contract\r\n") != std::string::npos);
            if (!opaque) {
                CHECK(text.find("hp=\"clear\"") != std::string::npos);
                CHECK(count(text, "Subject: the Jones contract\r\n") == 2);
                CHECK(count(text, "Bcc:") == 1);  // never copied inside
            }
            CHECK(text.find("HP-Outer") == std::string::npos);
            TestKeys keys = TestKeys::with_test_root();
            const Opened opened = verify(text, keys);
            CHECK(verdict(opened.status) == "good");
            CHECK(opened.status.header_protection.is_protected);
            CHECK(opened.status.header_protection.differing_fields ==
                  std::vector<std::string>{"bcc"});
            CHECK(count(opened.joined(), "Subject:") == 1);
        }
    }
    SUBCASE("encrypted, and signed then encrypted: hp=\"cipher\", Subject [...] outside") {
        for (const bool with_signature : {false, true}) {
            CAPTURE(with_signature);
            EncryptOptions options;
            options.protect_headers = true;
            if (with_signature) options.sign_with = &alice;
            const std::string text = encrypt(original, recipients(recipient("bob")), options);
            CHECK(text.find("Subject: [...]\r\n") != std::string::npos);
            CHECK(text.find("the Jones contract") == std::string::npos);
            TestKeys keys = TestKeys::with_test_root();
            keys.identities.push_back(load_identity("bob"));
            const Opened opened = decrypt(text, keys);
            const std::string& mime = opened.joined();
            CHECK(mime.find("Subject: the Jones contract\r\n") != std::string::npos);
            CHECK(count(mime, "Subject:") == 1);
            CHECK(mime.find("hp=\"cipher\"") != std::string::npos);
            CHECK(mime.find("HP-Outer") == std::string::npos);
            CHECK(opened.status.header_protection.is_protected);
            CHECK(opened.status.header_protection.differing_fields ==
                  std::vector<std::string>{"bcc", "subject"});
            if (with_signature) {
                CHECK(verdict(opened.status) == "good");
                CHECK(opened.status.signatures.at(0).from_check.address == "alice@example.test");
            }
        }
    }
    SUBCASE("the inner copy records the outer fields (HP-Outer) inside the encryption") {
        EncryptOptions options;
        options.protect_headers = true;
        const std::string text = encrypt(original, recipients(recipient("bob")), options);
        TestKeys keys = TestKeys::with_test_root();
        keys.identities.push_back(load_identity("bob"));
        // Decrypted by hand: the CMS content as the sender wrote it.
        std::string der;
        REQUIRE(smime::base64::decode_lenient_append(smime::mime::parse(text).body, der));
        write_file(pki_file("hp-outer.der"), der);
        std::string inner;
        REQUIRE(run("openssl cms -decrypt -inform DER -in " + pki_file("hp-outer.der") +
                        " -recip " + pki_file("bob.pem") + " -inkey " + pki_file("bob.key"),
                    &inner) == 0);
        CHECK(inner.find("HP-Outer: Subject: [...]\r\n") != std::string::npos);
        CHECK(inner.find("HP-Outer: From: Alice <alice@example.test>\r\n") != std::string::npos);
        CHECK(inner.find("Subject: the Jones contract\r\n") != std::string::npos);
        CHECK(inner.find("Content-Type: text/plain; charset=utf-8; hp=\"cipher\"\r\n") !=
              std::string::npos);
    }
    SUBCASE("an entity marked already is refused") {
        const std::string marked =
            "From: alice@example.test\r\nContent-Type: text/plain; hp=\"clear\"\r\n\r\nx\r\n";
        SignOptions options;
        options.protect_headers = true;
        CHECK_THROWS_AS(sign(marked, alice, options), smime::Error);
    }
}

TEST_CASE("an outer signature is checked against the From the opened message shows") {
    // Mallory (alice's key here) signs around an encrypted layer whose protected From is bob:
    // after decryption bob is shown, so alice's outer signature does not vouch for it.
    const std::string inner_message =
        "From: bob@example.test\r\nTo: carol@example.test\r\nSubject: from bob\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHi.\r\n";
    EncryptOptions hp;
    hp.protect_headers = true;
    std::string encrypted = encrypt(inner_message, recipients(recipient("alice")), hp);
    // The outer From is alice, who signs the encrypted layer.
    encrypted.replace(0, encrypted.find("\r\n") + 2, "From: alice@example.test\r\n");
    const std::string text = sign(encrypted, load_identity("alice")).str();
    TestKeys keys = TestKeys::with_test_root();
    keys.identities.push_back(load_identity("alice"));
    const Opened opened = decrypt(text, keys);
    REQUIRE(opened.status.signatures.size() == 1);
    CHECK(opened.joined().find("From: bob@example.test\r\n") != std::string::npos);
    CHECK(verdict(opened.status) == "address_mismatch");
    CHECK(opened.status.signatures[0].from_check.address == "bob@example.test");
    // Verifying without decrypting shows the outer From, and there alice's signature is good.
    TestKeys no_keys = TestKeys::with_test_root();
    CHECK(verdict(verify(text, no_keys).status) == "good");
}
