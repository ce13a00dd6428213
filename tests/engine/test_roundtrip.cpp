// SPDX-License-Identifier: MIT
// Round trips through our own engine: every signing and encryption choice, nesting, harvest.
#include "support.h"

#include "mime/entity.h"
#include "util/error.h"

#include <doctest/doctest.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

using namespace test;

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

TEST_CASE("sign then verify: every digest, RSA PKCS#1 v1.5, RSA-PSS, ECDSA, detached and opaque") {
    struct Case {
        const char* signer;
        DigestAlgorithm digest;
        RsaSignature rsa;
        bool opaque;
        const char* micalg;
        const char* digest_name;
    };
    const Case cases[] = {
        {"alice", DigestAlgorithm::Sha256, RsaSignature::Pkcs1v15, false, "micalg=sha-256",
         "sha256"},
        {"alice", DigestAlgorithm::Sha384, RsaSignature::Pkcs1v15, false, "micalg=sha-384",
         "sha384"},
        {"alice", DigestAlgorithm::Sha512, RsaSignature::Pkcs1v15, true, "", "sha512"},
        {"alice", DigestAlgorithm::Sha256, RsaSignature::Pss, false, "micalg=sha-256", "sha256"},
        {"alice", DigestAlgorithm::Sha512, RsaSignature::Pss, true, "", "sha512"},
        {"bob", DigestAlgorithm::Sha256, RsaSignature::Pkcs1v15, false, "micalg=sha-256", "sha256"},
        {"bob", DigestAlgorithm::Sha384, RsaSignature::Pkcs1v15, true, "", "sha384"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.signer);
        CAPTURE(c.digest_name);
        CAPTURE(c.opaque);
        const Identity id = load_identity(c.signer);
        SignOptions options;
        options.digest = c.digest;
        options.rsa_signature = c.rsa;
        options.opaque = c.opaque;
        const SecureString signed_message = sign(message(c.signer), id, options);
        const std::string& text = signed_message.str();
        CHECK(contains(text, "From: " + std::string(c.signer)));
        CHECK(contains(text, "Subject: test\r\n"));
        if (c.opaque) {
            CHECK(contains(text, "application/pkcs7-mime; smime-type=signed-data"));
        } else {
            CHECK(contains(text, "multipart/signed; protocol=\"application/pkcs7-signature\"; " +
                                     std::string(c.micalg)));
        }
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened = verify(text, keys);
        REQUIRE(opened.status.signatures.size() == 1);
        CHECK(verdict(opened.status) == "good");
        CHECK(opened.status.level == Level::Signed);
        CHECK(opened.status.signatures[0].digest_algorithm == c.digest_name);
        CHECK(opened.status.signatures[0].valid_at_signing_time == true);
        CHECK(opened.status.signatures[0].signer->emails ==
              std::vector<std::string>{std::string(c.signer) + "@example.test"});
        CHECK(contains(opened.joined(), "Hello, S/MIME."));
        CHECK(contains(opened.joined(), "Subject: test"));
        CHECK(keys.identity_requests == 0);
        REQUIRE(keys.harvested.size() == 1);
        CHECK(keys.harvested[0].sender_address == std::string(c.signer) + "@example.test");
        CHECK(keys.harvested[0].preferred_encryption_certificate);
        CHECK(keys.harvested[0].capabilities.front() == "aes256-gcm");
        CHECK(keys.harvested[0].matched_addresses ==
              std::vector<std::string>{std::string(c.signer) + "@example.test"});
        CHECK(keys.harvested[0].good);
        // Referring to the input: the same message, and a detached body is not copied.
        VerifyOptions referring;
        referring.refer_to_input = true;
        TestKeys more_keys = TestKeys::with_test_root();
        const Opened referred = verify(text, more_keys, referring);
        CHECK(referred.joined() == opened.joined());
        bool points_into_input = false;
        for (const std::string_view piece : referred.mime.views())
            points_into_input = points_into_input || (piece.data() >= text.data() &&
                                                      piece.data() < text.data() + text.size());
        CHECK(points_into_input == !c.opaque);
    }
}

TEST_CASE("signed attributes: capabilities strongest first, key preference, chain, signing time") {
    const Identity id = load_identity("alice");
    SignOptions options;
    options.signing_time = 1790000000;
    const SecureString signed_message = sign(message("alice"), id, options);
    TestKeys keys;  // no anchors: untrusted, but harvested anyway
    const Opened opened = verify(signed_message.str(), keys);
    CHECK(verdict(opened.status) == "untrusted");
    REQUIRE(keys.harvested.size() == 1);
    const Harvest& h = keys.harvested[0];
    CHECK(h.capabilities == std::vector<std::string>{"aes256-gcm", "aes128-gcm", "aes256-cbc",
                                                     "aes192-cbc", "aes128-cbc", "rsaes-oaep"});
    REQUIRE(h.preferred_encryption_certificate);
    CHECK(X509_cmp(h.preferred_encryption_certificate.get(), id.certificate.get()) == 0);
    CHECK(h.chain.size() == 1);  // the intermediate
    CHECK(h.signing_time == 1790000000);
    CHECK(h.matched_addresses == std::vector<std::string>{"alice@example.test"});
    CHECK_FALSE(h.good);  // untrusted: still handed over, the key store ranks it accordingly
    CHECK(opened.status.signatures[0].signing_time == 1790000000);
}

TEST_CASE("signing canonicalises line ends and makes 8-bit content 7-bit safe") {
    const Identity id = load_identity("alice");
    const std::string lf_message =
        "From: alice@example.test\nSubject: =?utf-8?q?caf=C3=A9?=\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Gr\xc3\xbc\xc3\x9f"
        "e aus K\xc3\xb6ln   \nFrom the start\n.\n"
        "--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
        "\x01\x02\xff\xfe\n"
        "--b1--\n";
    const SecureString signed_message = sign(lf_message, id);
    const std::string& text = signed_message.str();
    for (std::size_t i = 0; i < text.size(); ++i) {
        REQUIRE(static_cast<unsigned char>(text[i]) < 128);
        if (text[i] == '\n') REQUIRE((i > 0 && text[i - 1] == '\r'));
    }
    CHECK(contains(text, "Content-Transfer-Encoding: quoted-printable"));
    CHECK(contains(text, "Gr=C3=BC=C3=9Fe aus K=C3=B6ln  =20"));
    CHECK(contains(text, "=46rom the start"));
    CHECK(contains(text, "Content-Transfer-Encoding: base64\r\n\r\nAQL//g==\r\n"));
    TestKeys keys = TestKeys::with_test_root();
    CHECK(verdict(verify(text, keys).status) == "good");
}

TEST_CASE("encrypt and decrypt: CBC, GCM, OAEP, ECDH, several recipients") {
    struct Case {
        std::vector<std::pair<const char*, std::vector<std::string>>> recipients;
        const char* smime_type;
        const char* cipher;
    };
    const std::vector<std::string> gcm = {"aes256-gcm", "aes256-cbc"};
    const std::vector<std::string> oaep = {"aes256-cbc", "rsaes-oaep"};
    const std::vector<std::string> both = {"aes256-gcm", "rsaes-oaep"};
    const Case cases[] = {
        {{{"alice", {}}}, "smime-type=enveloped-data", "aes-256-cbc"},
        {{{"alice", gcm}}, "smime-type=authEnveloped-data", "aes-256-gcm"},
        {{{"alice", oaep}}, "smime-type=enveloped-data", "aes-256-cbc"},
        {{{"alice", both}}, "smime-type=authEnveloped-data", "aes-256-gcm"},
        {{{"bob", {}}}, "smime-type=enveloped-data", "aes-256-cbc"},
        {{{"bob", gcm}}, "smime-type=authEnveloped-data", "aes-256-gcm"},
        {{{"alice", gcm}, {"bob", gcm}}, "smime-type=authEnveloped-data", "aes-256-gcm"},
        {{{"alice", gcm}, {"bob", {}}}, "smime-type=enveloped-data", "aes-256-cbc"},
        {{{"alice", oaep}, {"bob", {}}, {"carol", {}}}, "smime-type=enveloped-data", "aes-256-cbc"},
    };
    for (const Case& c : cases) {
        std::vector<Recipient> recipients;
        for (const auto& [name, caps] : c.recipients) recipients.push_back(recipient(name, caps));
        const std::string encrypted =
            encrypt(message("alice", "Secret \xc3\xa9 text\r\n"), recipients);
        CAPTURE(c.cipher);
        CHECK(contains(encrypted, c.smime_type));
        CHECK(!contains(encrypted, "Secret"));
        CHECK(contains(encrypted, "Subject: test\r\n"));
        for (const auto& entry : c.recipients) {
            const std::string& name =
                entry.first;  // a plain reference: CAPTURE takes it in a lambda
            CAPTURE(name);
            TestKeys keys = TestKeys::with_test_root();
            keys.identities.push_back(load_identity("dave"));  // not a recipient: skipped
            keys.identities.push_back(load_identity(name));
            const Opened opened = decrypt(encrypted, keys);
            CHECK(keys.identity_requests == 1);
            CHECK(opened.status.level == Level::Encrypted);
            REQUIRE(opened.status.layers.size() == 1);
            CHECK(opened.status.layers[0].decrypted);
            CHECK(opened.status.layers[0].content_encryption == c.cipher);
            CHECK(contains(opened.joined(), "Secret \xc3\xa9 text"));
            CHECK(contains(opened.joined(), "Subject: test"));
            CHECK(contains(opened.joined(), "Content-Type: text/plain; charset=utf-8"));
        }
    }
}

TEST_CASE("sign then encrypt (RSA and EC), decrypt verifies the inner signature") {
    for (const char* name : {"alice", "bob"}) {
        CAPTURE(name);
        const Identity signer = load_identity(name);
        EncryptOptions options;
        options.sign_with = &signer;
        const std::string encrypted =
            encrypt(message(name), recipients(recipient("alice"), recipient("bob", {"aes256-gcm"})),
                    options);
        TestKeys keys = TestKeys::with_test_root();
        keys.identities.push_back(load_identity("bob"));
        const Opened opened = decrypt(encrypted, keys);
        CHECK(opened.status.level == Level::SignedEncrypted);
        REQUIRE(opened.status.layers.size() == 2);
        CHECK(opened.status.layers[1].kind == LayerStatus::Kind::Signed);
        CHECK(opened.status.signatures.size() == 1);
        CHECK(opened.status.signatures[0].layer == 1);
        CHECK(verdict(opened.status) == "good");
        CHECK(contains(opened.joined(), "Hello, S/MIME."));
        CHECK(keys.harvested.size() == 1);

        // verify() does not decrypt and does not ask for keys.
        TestKeys no_keys = TestKeys::with_test_root();
        const Opened shallow = verify(encrypted, no_keys);
        CHECK(no_keys.identity_requests == 0);
        CHECK(shallow.status.level == Level::Encrypted);
        CHECK(!shallow.status.layers[0].decrypted);
    }
}

TEST_CASE("decryption failures are uniform") {
    const std::string encrypted = encrypt(message("alice"), recipients(recipient("alice")));
    TestKeys nobody;
    nobody.identities.push_back(load_identity("dave"));
    std::string first;
    try {
        decrypt(encrypted, nobody);
        FAIL("decrypted without a key");
    } catch (const Error& e) {
        CHECK(e.code() == Code::DecryptFailed);
        first = e.what();
    }
    // Flip a byte in the middle of the ciphertext: same code, same message.
    std::string tampered = encrypted;
    const auto pos = tampered.size() - 200;
    tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
    TestKeys alice;
    alice.identities.push_back(load_identity("alice"));
    try {
        decrypt(tampered, alice);
        FAIL("decrypted tampered ciphertext");
    } catch (const Error& e) {
        CHECK(e.code() == Code::DecryptFailed);
        CHECK(first == e.what());
    }
    // GCM: a flipped byte fails the authentication tag.
    const std::string gcm =
        encrypt(message("alice"), recipients(recipient("alice", {"aes256-gcm"})));
    std::string gcm_tampered = gcm;
    const auto gpos = gcm_tampered.size() - 120;
    gcm_tampered[gpos] = gcm_tampered[gpos] == 'A' ? 'B' : 'A';
    CHECK_THROWS_AS(decrypt(gcm_tampered, alice), Error);
}

TEST_CASE("encrypt refuses unusable recipients") {
    CHECK_THROWS_AS(encrypt(message("alice"), {}), Error);
    Recipient broken;
    broken.address = "x@example.test";
    try {
        encrypt(message("alice"), recipients(std::move(broken)));
        FAIL("encrypted to nobody");
    } catch (const Error& e) {
        CHECK(e.code() == Code::NoCertificate);
        CHECK(e.details()["addresses"][0] == "x@example.test");
    }
}

TEST_CASE("inspect reports structure without keys") {
    const Identity alice = load_identity("alice");
    CHECK(inspect(message("alice")).level == Level::None);
    CHECK(inspect(sign(message("alice"), alice).str()).level == Level::Signed);
    SignOptions opaque;
    opaque.opaque = true;
    CHECK(inspect(sign(message("alice"), alice, opaque).str()).level == Level::Signed);
    const std::string encrypted = encrypt(message("alice"), recipients(recipient("alice")));
    CHECK(inspect(encrypted).level == Level::Encrypted);
    // Encrypted inside signed: both are visible.
    CHECK(inspect(sign(encrypted, alice).str()).level == Level::SignedEncrypted);
}

TEST_CASE("status JSON carries the documented fields") {
    const Identity alice = load_identity("alice");
    TestKeys keys = TestKeys::with_test_root();
    const auto json = to_json(verify(sign(message("alice"), alice).str(), keys).status);
    CHECK(json["level"] == "signed");
    const auto& s = json["signatures"][0];
    CHECK(s["verdict"] == "good");
    CHECK(s["reasons"].empty());
    CHECK(s["digest_algorithm"] == "sha256");
    CHECK(s["valid_at_signing_time"] == true);
    CHECK(s["signing_time"].is_string());
    // The one certificate description, as key store replies have it.
    for (const char* field : {"fingerprint", "emails", "subject", "issuer", "serial", "not_before",
                              "not_after", "key", "warnings"}) {
        CHECK(s["signer"].contains(field));
    }
    CHECK_FALSE(s["signer"].contains("fingerprint_sha256"));
    CHECK(s["signer"]["subject"] == "emailAddress=alice@example.test,CN=alice");
    CHECK(s["signer"]["fingerprint"].get<std::string>().size() == 64);
    CHECK(s["signer"]["key"]["type"] == "RSA");
}

TEST_CASE(
    "signing with the digest taken while the message arrived: same verdicts, and unsuitable "
    "digests unused") {
    const Identity id = load_identity("alice");
    const std::string attachment(300000, 'Q');
    std::string body =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: "
        "text/plain\r\n\r\nHi.\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    for (std::size_t i = 0; i < attachment.size(); i += 76)
        body += attachment.substr(i, 76) + "\r\n";
    body += "--b--\r\n";
    struct Case {
        const char* name;
        std::string text;
        bool by_reference;  // the body comes back as a view of the input
    };
    const std::string head =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: pieces\r\nMIME-Version: "
        "1.0\r\n";
    const Case cases[] = {
        {"canonical", head + body, true},
        {"bare LF in the body", head + "Content-Type: text/plain\r\n\r\nline one\nline two\n",
         false},
        {"8-bit body", head + "Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9\r\n",
         false},
        {"no Content-Type", "From: alice@example.test\r\nSubject: plain\r\n\r\nHello.\r\n", true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        for (const std::size_t piece : {1u, 7u, 4096u, 1000000u}) {
            CAPTURE(piece);
            EntityDigester digester(DigestAlgorithm::Sha256);
            for (std::size_t at = piece; at < c.text.size() + piece; at += piece)
                digester.update(std::string_view(c.text).substr(0, std::min(at, c.text.size())));
            const EntityDigest digest = digester.finish();
            const Pieces pieces = sign_pieces(c.text, id, {}, &digest);
            bool refers_to_input = false;
            for (const std::string_view v : pieces.views())
                refers_to_input = refers_to_input || (v.data() >= c.text.data() &&
                                                      v.data() < c.text.data() + c.text.size());
            CHECK(refers_to_input == c.by_reference);
            const SecureString whole = pieces.join();
            TestKeys keys = TestKeys::with_test_root();
            const Opened opened = verify(whole.str(), keys);
            REQUIRE(opened.status.signatures.size() == 1);
            CHECK(verdict(opened.status) == "good");
        }
    }
    // A digest of other bytes, or with another algorithm, is not used: the result still verifies.
    const std::string text = head + body;
    EntityDigester other(DigestAlgorithm::Sha256);
    other.update(head + "Content-Type: text/plain\r\n\r\nsomething else\r\n");
    const EntityDigest wrong = other.finish();
    EntityDigester sha512(DigestAlgorithm::Sha512);
    sha512.update(text);
    const EntityDigest wrong_algorithm = sha512.finish();
    for (const EntityDigest* d : {&wrong, &wrong_algorithm}) {
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened = verify(sign_pieces(text, id, {}, d).join().str(), keys);
        REQUIRE(opened.status.signatures.size() == 1);
        CHECK(verdict(opened.status) == "good");
    }
}

TEST_CASE(
    "harvest: a From that does not match vouches for no address; of thousands of carried "
    "certificates only the signer's issuers are handed over") {
    Identity id = load_identity("alice");
    SUBCASE("From another address") {
        const SecureString signed_message = sign(message("bob"), id);  // From bob@, signed by Alice
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened = verify(signed_message.str(), keys);
        CHECK(verdict(opened.status) == "address_mismatch");
        for (const Harvest& h : keys.harvested) {
            CHECK(h.matched_addresses.empty());
            CHECK_FALSE(h.good);
        }
    }
    SUBCASE("thousands of certificates in the SignedData") {
        X509* intermediate = id.chain.front().get();
        const auto key = ossl::PKeyPtr(EVP_EC_gen("P-256"));
        REQUIRE(key);
        for (int i = 0; i < 2000; ++i) {
            ossl::X509Ptr cert(X509_new());
            X509_set_version(cert.get(), 2);
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), i + 1);
            X509_NAME* name = X509_get_subject_name(cert.get());
            const std::string cn = "filler " + std::to_string(i);
            const auto* cn_bytes = reinterpret_cast<const unsigned char*>(cn.c_str());
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn_bytes, -1, -1, 0);
            X509_set_issuer_name(cert.get(), name);
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
            X509_set_pubkey(cert.get(), key.get());
            REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
            id.chain.push_back(std::move(cert));
        }
        const SecureString signed_message = sign(message("alice"), id);
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened = verify(signed_message.str(), keys);
        CHECK(verdict(opened.status) == "good");
        REQUIRE(keys.harvested.size() == 1);
        const Harvest& h = keys.harvested[0];
        CHECK(h.chain.size() <= Harvest::kMaxChain);
        REQUIRE_FALSE(h.chain.empty());
        CHECK(X509_cmp(h.chain.front().get(), intermediate) == 0);
    }
}

TEST_CASE(
    "an SMIMEEncryptionKeyPreference of another ASN.1 type is ignored, never read as a pointer") {
    Identity id = load_identity("alice");
    const std::string content = "Content-Type: text/plain\r\n\r\nhello\r\n";
    const ossl::BioPtr in = ossl::memory_bio(content);
    const ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
    REQUIRE(cms);
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), id.certificate.get(), id.private_key.get(),
                                         EVP_sha256(), CMS_PARTIAL | CMS_BINARY);
    REQUIRE(si);
    ASN1_OBJECT* preference = OBJ_txt2obj("1.2.840.113549.1.9.16.2.11", 1);
    int flag = 1;  // a BOOLEAN TRUE where the CHOICE of RFC 8551 section 2.5.3 belongs
    REQUIRE(CMS_signed_add1_attr_by_OBJ(si, preference, V_ASN1_BOOLEAN, &flag, -1) == 1);
    ASN1_OBJECT_free(preference);
    REQUIRE(CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) == 1);
    const ossl::BioPtr out(BIO_new(BIO_s_mem()));
    REQUIRE(SMIME_write_CMS(out.get(), cms.get(), nullptr, CMS_BINARY) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    const std::string mail =
        "From: alice@example.test\r\n" + std::string(data, static_cast<std::size_t>(size));

    TestKeys keys = TestKeys::with_test_root();
    const Opened opened = verify(mail, keys);
    CHECK(verdict(opened.status) == "good");
    REQUIRE(keys.harvested.size() == 1);
    CHECK_FALSE(keys.harvested[0].preferred_encryption_certificate);
}

TEST_CASE(
    "a signed part that arrives with bare LFs comes back as it was verified, binary parts too") {
    Identity id = load_identity("alice");
    const std::string mail =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: data\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
        "7bit\r\n\r\nAB\r\nCD\r\n";
    const SecureString signed_message = sign(mail, id);
    std::string tampered(signed_message.str());
    const auto at = tampered.find("AB\r\nCD");
    REQUIRE(at != std::string::npos);
    tampered.replace(at, 6, "AB\nCD");  // the line end inside the "attachment" changes
    TestKeys keys = TestKeys::with_test_root();
    const Opened opened = verify(tampered, keys);
    CHECK(verdict(opened.status) == "good");  // RFC 8551 section 3.1.1: canonical form is signed
    CHECK(opened.joined().find("AB\nCD") == std::string::npos);
    CHECK(opened.joined().find("AB\r\nCD\r\n") != std::string::npos);
}
