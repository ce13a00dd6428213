// SPDX-License-Identifier: MIT
// Interoperability in both directions with peers nobody here wrote: openssl cms, gpgsm and NSS
// cmsutil. A missing peer fails the test by name; nothing is skipped. What a peer cannot do
// (tests/../PEERS: gpgsm and cmsutil read neither AES-GCM nor RSA-OAEP nor OpenSSL's ECDH) is
// asserted as a known refusal, so a peer that learns it shows up here.
#include "support.h"

#include "mime/encoding.h"
#include "mime/entity.h"
#include "util/base64.h"
#include "util/error.h"

#include <doctest/doctest.h>

#include <filesystem>

using namespace test;

namespace {

const std::string kWork = ENGINE_TEST_WORK;

std::string work(const std::string& name) { return kWork + "/" + name; }

void require_tool(const char* tool) {
    INFO("interop peer missing: " << tool);
    REQUIRE(run(std::string("command -v ") + tool) == 0);
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// An 8-bit text and a binary attachment: what the issue asks each peer to read.
std::string rich_message(const std::string& from) {
    std::string attachment;
    for (int i = 0; i < 3000; ++i) attachment.push_back(static_cast<char>(i * 7 % 256));
    std::string text =
        "From: " + from +
        "@example.test\r\nTo: bob@example.test\r\nSubject: interop\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n"
        "--xyz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
        "8bit\r\n\r\n"
        "Gr\xc3\xbc\xc3\x9f"
        "e, interop works.\r\n"
        "--xyz\r\nContent-Type: application/octet-stream; name=blob.bin\r\n"
        "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
        "filename=blob.bin\r\n\r\n";
    smime::mime::append_base64_lines(attachment, text);
    text += "--xyz--\r\n";
    return text;
}

// The two halves of our multipart/signed: the signed bytes and the DER signature.
std::pair<std::string, std::string> split_detached(const std::string& message) {
    const auto top = smime::mime::parse(message);
    const auto parts =
        smime::mime::split_multipart(top.body, smime::mime::content_type(top).param("boundary"));
    const auto signature = smime::mime::parse(parts.parts.at(1));
    std::string der;
    REQUIRE(smime::base64::decode_lenient_append(signature.body, der));
    return {std::string(parts.parts.at(0)), der};
}

// The DER inside our application/pkcs7-mime.
std::string pkcs7_der(const std::string& message) {
    std::string der;
    REQUIRE(smime::base64::decode_lenient_append(smime::mime::parse(message).body, der));
    return der;
}

std::string detached_message(const std::string& from, const std::string& content,
                             const std::string& der) {
    std::string out = "From: " + from +
                      "@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; "
                      "protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
                      "boundary=\"sep\"\r\n\r\n--sep\r\n";
    out += content;
    out +=
        "\r\n--sep\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: "
        "base64\r\n\r\n";
    smime::mime::append_base64_lines(der, out);
    return out + "--sep--\r\n";
}

std::string pkcs7_message(const std::string& from, const std::string& der, const char* type) {
    std::string out = "From: " + from +
                      "@example.test\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; "
                      "smime-type=" +
                      type + "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    smime::mime::append_base64_lines(der, out);
    return out;
}

const char* const kEntity =
    "Content-Type: text/plain; charset=utf-8\r\n\r\nFrom a peer, with love.\r\n";

TestKeys alice_and_bob() {
    TestKeys keys = TestKeys::with_test_root();
    keys.identities.push_back(load_identity("alice"));
    keys.identities.push_back(load_identity("bob"));
    return keys;
}

struct Fixture {
    Fixture() {
        std::filesystem::create_directories(kWork);
        write_file(work("entity.txt"), kEntity);
    }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "openssl cms reads what we write") {
    require_tool("openssl");
    const std::string ca = " -CAfile " + pki_file("root.pem");
    struct Sign {
        const char* who;
        bool opaque;
        RsaSignature rsa;
        DigestAlgorithm digest;
    };
    for (const Sign& s : {Sign{"alice", false, RsaSignature::Pkcs1v15, DigestAlgorithm::Sha256},
                          Sign{"alice", true, RsaSignature::Pss, DigestAlgorithm::Sha384},
                          Sign{"alice", false, RsaSignature::Pss, DigestAlgorithm::Sha512},
                          Sign{"bob", false, RsaSignature::Pkcs1v15, DigestAlgorithm::Sha256},
                          Sign{"bob", true, RsaSignature::Pkcs1v15, DigestAlgorithm::Sha512}}) {
        CAPTURE(s.who);
        CAPTURE(s.opaque);
        SignOptions options;
        options.opaque = s.opaque;
        options.rsa_signature = s.rsa;
        options.digest = s.digest;
        write_file(work("signed.eml"),
                   sign(rich_message(s.who), load_identity(s.who), options).str());
        std::string out;
        CHECK(run("openssl cms -verify -in " + work("signed.eml") + ca +
                      " -purpose smimesign -out " + work("content.out"),
                  &out) == 0);
        CHECK(out.find("Verification successful") != std::string::npos);
        CHECK(read_file(work("content.out")).find("Gr=C3=BC=C3=9Fe, interop works.") !=
              std::string::npos);
    }
    // Encryption: every algorithm choice, RSA and EC recipients.
    struct Encrypt {
        const char* who;
        std::vector<std::string> caps;
    };
    for (const Encrypt& e :
         {Encrypt{"alice", {}}, Encrypt{"alice", {"aes256-gcm"}}, Encrypt{"alice", {"rsaes-oaep"}},
          Encrypt{"alice", {"aes256-gcm", "rsaes-oaep"}}, Encrypt{"bob", {}},
          Encrypt{"bob", {"aes256-gcm"}}}) {
        CAPTURE(e.who);
        CAPTURE(e.caps.size());
        const Identity signer = load_identity("alice");
        EncryptOptions options;
        options.sign_with = &signer;
        write_file(work("enc.eml"),
                   encrypt(rich_message("alice"), recipients(recipient(e.who, e.caps)), options));
        std::string out;
        CHECK(run("openssl cms -decrypt -in " + work("enc.eml") + " -recip " +
                      pki_file(std::string(e.who) + ".pem") + " -inkey " +
                      pki_file(std::string(e.who) + ".key") + " -out " + work("dec.out"),
                  &out) == 0);
        CHECK(run("openssl cms -verify -in " + work("dec.out") + ca + " -out " +
                  work("content.out")) == 0);
        CHECK(read_file(work("content.out")).find("interop works.") != std::string::npos);
    }
}

TEST_CASE_FIXTURE(Fixture, "we read what openssl cms writes") {
    require_tool("openssl");
    const std::string signer = " -signer " + pki_file("alice.pem") + " -inkey " +
                               pki_file("alice.key") + " -certfile " + pki_file("intermediate.pem");
    const std::string ec_signer = " -signer " + pki_file("bob.pem") + " -inkey " +
                                  pki_file("bob.key") + " -certfile " +
                                  pki_file("intermediate.pem");
    const std::vector<std::pair<std::string, std::string>> signs = {
        {"alice", "openssl cms -sign -binary -in " + work("entity.txt") + signer},
        {"alice", "openssl cms -sign -binary -nodetach -in " + work("entity.txt") + signer},
        {"alice", "openssl cms -sign -binary -in " + work("entity.txt") + signer +
                      " -keyopt rsa_padding_mode:pss -md sha512"},
        {"bob", "openssl cms -sign -binary -in " + work("entity.txt") + ec_signer + " -md sha384"},
    };
    for (const auto& [who, signing] : signs) {
        const std::string& command = signing;  // a plain reference: CAPTURE takes it in a lambda
        CAPTURE(command);
        REQUIRE(run(command + " -out " + work("peer-signed.eml")) == 0);
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened =
            verify("From: " + who + "@example.test\r\n" + read_file(work("peer-signed.eml")), keys);
        CHECK(verdict(opened.status) == "good");
        CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);
        CHECK(keys.harvested.size() == 1);
    }
    // Without the signer's certificate in the message (-nocerts): found in the store by issuer
    // and serial number when the store has it, bad_signature (cannot be checked) when not.
    {
        REQUIRE(run("openssl cms -sign -binary -nocerts -in " + work("entity.txt") + signer +
                    " -out " + work("peer-signed.eml")) == 0);
        const std::string mail =
            "From: alice@example.test\r\n" + read_file(work("peer-signed.eml"));
        TestKeys unknown = TestKeys::with_test_root();
        CHECK(verdict(verify(mail, unknown).status) == "bad_signature");
        TestKeys known = TestKeys::with_test_root();
        known.known_certs.push_back(load_cert(pki_file("bob.pem")));
        known.known_certs.push_back(load_cert(pki_file("alice.pem")));
        const Opened opened = verify(mail, known);
        CHECK(verdict(opened.status) == "good");
        REQUIRE(opened.status.signatures.size() == 1);
        CHECK(opened.status.signatures[0].signer->emails ==
              std::vector<std::string>{"alice@example.test"});

        // A planted look-alike (same issuer name and serial, another key) does not displace her.
        std::string serial, issuer;
        REQUIRE(run("openssl x509 -in " + pki_file("alice.pem") + " -noout -serial | cut -d= -f2",
                    &serial) == 0);
        REQUIRE(run("openssl x509 -in " + pki_file("alice.pem") +
                        " -noout -issuer -nameopt compat | cut -d= -f2-",
                    &issuer) == 0);
        serial = serial.substr(0, serial.find('\n'));
        issuer = issuer.substr(0, issuer.find('\n'));
        REQUIRE(run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + work("fake-ca.key") +
                    " -out " + work("fake-ca.pem") + " -subj " + quote(issuer) +
                    " -days 30 2>/dev/null") == 0);
        REQUIRE(run("openssl req -newkey rsa:2048 -nodes -keyout " + work("fake.key") + " -out " +
                    work("fake.csr") + " -subj /CN=alice 2>/dev/null") == 0);
        REQUIRE(run("openssl x509 -req -in " + work("fake.csr") + " -CA " + work("fake-ca.pem") +
                    " -CAkey " + work("fake-ca.key") + " -set_serial 0x" + serial +
                    " -days 30 -out " + work("fake.pem") + " 2>/dev/null") == 0);
        TestKeys planted = TestKeys::with_test_root();
        planted.known_certs.push_back(load_cert(work("fake.pem")));
        CHECK(verdict(verify(mail, planted).status) ==
              "bad_signature");  // only the look-alike: cannot check
        planted.known_certs.push_back(load_cert(pki_file("alice.pem")));
        CHECK(verdict(verify(mail, planted).status) == "good");
    }
    const std::vector<std::string> encrypts = {
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -aes256 -in " +
            work("entity.txt") + " " + pki_file("alice.pem"),
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -aes-256-gcm -in " +
            work("entity.txt") + " " + pki_file("alice.pem"),
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -aes128 -in " +
            work("entity.txt") + " -recip " + pki_file("alice.pem") +
            " -keyopt rsa_padding_mode:oaep",
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -des3 -in " +
            work("entity.txt") + " " + pki_file("alice.pem"),
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -aes192 -in " +
            work("entity.txt") + " " + pki_file("bob.pem"),
        "openssl cms -encrypt -out " + work("peer-enc.eml") + " -binary -aes-128-gcm -in " +
            work("entity.txt") + " " + pki_file("bob.pem"),
        "openssl cms -encrypt -out " + work("peer-enc.eml") +
            " -binary -rc2 -provider legacy -provider default -in " + work("entity.txt") + " " +
            pki_file("alice.pem"),
    };
    for (const std::string& command : encrypts) {
        CAPTURE(command);
        REQUIRE(run(command) == 0);
        TestKeys keys = alice_and_bob();
        const Opened opened = decrypt(read_file(work("peer-enc.eml")), keys);
        CHECK(opened.status.level == Level::Encrypted);
        CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);
    }
}

namespace {

// A private GNUPGHOME with the test root trusted and alice's key imported.
std::string gpgsm_home() {
    const std::string home = work("gnupg");
    // A gpg-agent from an earlier run removes its sockets as it exits: stop it, then clean up.
    run("GNUPGHOME=" + quote(home) + " gpgconf --kill all");
    for (int attempt = 0; attempt < 10; ++attempt) {
        std::error_code ignored;
        std::filesystem::remove_all(home, ignored);
        if (!std::filesystem::exists(home)) break;
    }
    std::filesystem::create_directories(home);
    std::filesystem::permissions(home, std::filesystem::perms::owner_all);
    write_file(home + "/gpgsm.conf", "disable-crl-checks\n");
    write_file(home + "/gpg-agent.conf", "allow-loopback-pinentry\n");
    const std::string env = "GNUPGHOME=" + quote(home) + " ";
    REQUIRE(run(env + "gpgsm --batch --import " + pki_file("root.pem") + " " +
                pki_file("intermediate.pem")) == 0);
    std::string fingerprint;
    REQUIRE(
        run("openssl x509 -in " + pki_file("root.pem") + " -noout -fingerprint -sha1 | cut -d= -f2",
            &fingerprint) == 0);
    write_file(home + "/trustlist.txt",
               fingerprint.substr(0, fingerprint.find('\n')) + " S relax\n");
    // Importing a private key goes through gpg-agent, which gpgsm starts and then waits a few
    // seconds for; on a loaded machine that wait can run out. Start the agent first, try the
    // import up to three times, and show gpgsm's words if it still fails.
    run(env + "gpgconf --launch gpg-agent");
    std::string import_output;
    int import_status = -1;
    for (int attempt = 0; attempt < 3 && import_status != 0; ++attempt)
        import_status = run(
            "echo | " + env + "gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --import " +
                pki_file("alice-legacy.p12"),
            &import_output);
    CAPTURE(import_output);
    REQUIRE(import_status == 0);
    REQUIRE(run(env + "gpgsm --batch --import " + pki_file("bob.pem")) == 0);
    return env;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "gpgsm: both directions") {
    require_tool("gpgsm");
    const std::string env = gpgsm_home();

    // Our detached signatures (RSA, ECDSA) verify in gpgsm.
    for (const char* who : {"alice", "bob"}) {
        CAPTURE(who);
        const auto [content, der] =
            split_detached(sign(rich_message(who), load_identity(who)).str());
        write_file(work("g-content"), content);
        write_file(work("g-sig.der"), der);
        std::string out;
        CHECK(run(env + "gpgsm --batch --status-fd 1 --verify " + work("g-sig.der") + " " +
                      work("g-content"),
                  &out) == 0);
        CHECK(out.find("GOODSIG") != std::string::npos);
        CHECK(out.find("VALIDSIG") != std::string::npos);
    }
    // Our AES-256-CBC, RSA PKCS#1 v1.5 EnvelopedData decrypts in gpgsm.
    write_file(work("g-env.der"),
               pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice")))));
    std::string plain;
    CHECK(run(env + "gpgsm --batch --pinentry-mode loopback --passphrase '' --decrypt " +
                  work("g-env.der"),
              &plain) == 0);
    CHECK(plain.find("interop works.") != std::string::npos);
    // Known gap of gpgsm 2.2.40: AuthEnvelopedData (AES-GCM) is refused.
    write_file(
        work("g-gcm.der"),
        pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice", {"aes256-gcm"})))));
    CHECK(run(env + "gpgsm --batch --pinentry-mode loopback --passphrase '' --decrypt " +
              work("g-gcm.der")) != 0);

    // Known gap of gpgsm 2.2.40: RSA-OAEP key transport is refused.
    write_file(
        work("g-oaep.der"),
        pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice", {"rsaes-oaep"})))));
    CHECK(run(env + "gpgsm --batch --pinentry-mode loopback --passphrase '' --decrypt " +
              work("g-oaep.der")) != 0);

    // gpgsm's signature verifies with us (detached and opaque).
    REQUIRE(run(env +
                "gpgsm --batch --pinentry-mode loopback --passphrase '' -u alice@example.test "
                "--output " +
                work("g-peer-sig.der") + " --detach-sign " + work("entity.txt")) == 0);
    TestKeys keys = alice_and_bob();
    Opened opened =
        verify(detached_message("alice", kEntity, read_file(work("g-peer-sig.der"))), keys);
    CHECK(verdict(opened.status) == "good");
    REQUIRE(run(env +
                "gpgsm --batch --pinentry-mode loopback --passphrase '' -u alice@example.test "
                "--output " +
                work("g-peer-opaque.der") + " --sign " + work("entity.txt")) == 0);
    opened =
        verify(pkcs7_message("alice", read_file(work("g-peer-opaque.der")), "signed-data"), keys);
    CHECK(verdict(opened.status) == "good");
    CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);

    // gpgsm encrypts to RSA alice; we decrypt.
    REQUIRE(run(env + "gpgsm --batch -r alice@example.test --output " + work("g-peer-env.der") +
                " --encrypt " + work("entity.txt")) == 0);
    opened =
        decrypt(pkcs7_message("alice", read_file(work("g-peer-env.der")), "enveloped-data"), keys);
    CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);
    run(env + "gpgconf --kill all");
}

namespace {

std::string nss_db() {
    const std::string dir = work("nssdb");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string db = " -d sql:" + quote(dir);
    REQUIRE(run("certutil -N" + db + " --empty-password") == 0);
    REQUIRE(run("certutil -A" + db + " -n root -t C,C,C -i " + pki_file("root.pem")) == 0);
    REQUIRE(run("certutil -A" + db + " -n intermediate -t ,, -i " + pki_file("intermediate.pem")) ==
            0);
    REQUIRE(run("pk12util -i " + pki_file("alice-legacy.p12") + db + " -W ''") == 0);
    REQUIRE(run("certutil -A" + db + " -n bob -t ,, -i " + pki_file("bob.pem")) == 0);
    return db;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "NSS cmsutil: both directions") {
    require_tool("cmsutil");
    require_tool("certutil");
    require_tool("pk12util");
    const std::string db = nss_db();

    // Our signatures verify in NSS (RSA PKCS#1 v1.5, RSA-PSS, ECDSA).
    struct Case {
        const char* who;
        RsaSignature rsa;
    };
    for (const Case& c : {Case{"alice", RsaSignature::Pkcs1v15}, Case{"alice", RsaSignature::Pss},
                          Case{"bob", RsaSignature::Pkcs1v15}}) {
        CAPTURE(c.who);
        CAPTURE(c.rsa == RsaSignature::Pss);
        SignOptions options;
        options.rsa_signature = c.rsa;
        const auto [content, der] =
            split_detached(sign(rich_message(c.who), load_identity(c.who), options).str());
        write_file(work("n-content"), content);
        write_file(work("n-sig.der"), der);
        std::string out;
        CHECK(run("cmsutil -D -i " + work("n-sig.der") + " -c " + work("n-content") + db + " -u 4",
                  &out) == 0);
        CHECK(out.find("signer 0 status") == std::string::npos);
    }
    // Our AES-256-CBC / RSA v1.5 decrypts in NSS.
    write_file(work("n-env.der"),
               pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice")))));
    std::string plain;
    CHECK(run("cmsutil -D -i " + work("n-env.der") + db + " -p ''", &plain) == 0);
    CHECK(plain.find("interop works.") != std::string::npos);
    // Known gap of NSS 3.87: AuthEnvelopedData is an unrecognised OID.
    write_file(
        work("n-gcm.der"),
        pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice", {"aes256-gcm"})))));
    CHECK(run("cmsutil -D -i " + work("n-gcm.der") + db + " -p ''") != 0);

    // NSS signs (detached, with signing time, capabilities, key preference); we verify.
    REQUIRE(run("cmsutil -S -N alice -T -G -P -Y alice -i " + work("entity.txt") + db +
                " -p '' -o " + work("n-peer-sig.der")) == 0);
    TestKeys keys = alice_and_bob();
    Opened opened =
        verify(detached_message("alice", kEntity, read_file(work("n-peer-sig.der"))), keys);
    CHECK(verdict(opened.status) == "good");
    REQUIRE(keys.harvested.size() == 1);
    CHECK(!keys.harvested[0].capabilities.empty());
    CHECK(keys.harvested[0].preferred_encryption_certificate);
    // Opaque.
    REQUIRE(run("cmsutil -S -N alice -G -i " + work("entity.txt") + db + " -p '' -o " +
                work("n-peer-opaque.der")) == 0);
    opened =
        verify(pkcs7_message("alice", read_file(work("n-peer-opaque.der")), "signed-data"), keys);
    CHECK(verdict(opened.status) == "good");
    CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);

    // NSS encrypts to alice (RSA); we decrypt.
    REQUIRE(run("cmsutil -E -r alice@example.test -i " + work("entity.txt") + db + " -o " +
                work("n-peer-env.der")) == 0);
    opened =
        decrypt(pkcs7_message("alice", read_file(work("n-peer-env.der")), "enveloped-data"), keys);
    CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);
    // Known gap of cmsutil 3.87: it cannot encrypt to an EC certificate ("invalid algorithm").
    CHECK(run("cmsutil -E -r bob@example.test -i " + work("entity.txt") + db + " -o " +
              work("n-peer-ec.der")) != 0);
    // Known gap: RSA-OAEP key transport is not read either.
    write_file(
        work("n-oaep.der"),
        pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice", {"rsaes-oaep"})))));
    CHECK(run("cmsutil -D -i " + work("n-oaep.der") + db + " -p ''") != 0);
}

// Thunderbird's own NSS (bundled in /usr/lib/thunderbird, driven through Debian's cmsutil, as
// PEERS.md describes): a message we sign and encrypt opens and verifies there, and a message
// Thunderbird's engine signs verifies here. Its gaps differ from NSS 3.87's: it reads RSA-OAEP.
TEST_CASE_FIXTURE(Fixture, "Thunderbird's NSS: signed and encrypted both ways") {
    require_tool("cmsutil");
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/lib/thunderbird/libsmime3.so"),
                    "Thunderbird is not installed (installer/deps.sh --test installs it)");
    const std::string tb = "LD_LIBRARY_PATH=/usr/lib/thunderbird ";
    const std::string db = nss_db();

    // Ours: sign (detached), then encrypt for alice (AES-256-CBC, RSA v1.5); Thunderbird's NSS
    // decrypts and then verifies the signature inside.
    const std::string signed_text = sign(rich_message("alice"), load_identity("alice")).str();
    const auto [content, sig] = split_detached(signed_text);
    write_file(work("tb-content"), content);
    write_file(work("tb-sig.der"), sig);
    std::string out;
    CHECK(
        run(tb + "cmsutil -D -i " + work("tb-sig.der") + " -c " + work("tb-content") + db + " -u 4",
            &out) == 0);
    CHECK(out.find("signer 0 status") == std::string::npos);
    write_file(work("tb-env.der"),
               pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice")))));
    std::string plain;
    CHECK(run(tb + "cmsutil -D -i " + work("tb-env.der") + db + " -p ''", &plain) == 0);
    CHECK(plain.find("interop works.") != std::string::npos);
    // Thunderbird's NSS reads RSA-OAEP key transport.
    write_file(
        work("tb-oaep.der"),
        pkcs7_der(encrypt(rich_message("alice"), recipients(recipient("alice", {"rsaes-oaep"})))));
    CHECK(run(tb + "cmsutil -D -i " + work("tb-oaep.der") + db + " -p ''", &plain) == 0);

    // Thunderbird's engine signs; we verify and learn the certificate.
    REQUIRE(run(tb + "cmsutil -S -N alice -T -G -P -Y alice -i " + work("entity.txt") + db +
                " -p '' -o " + work("tb-peer-sig.der")) == 0);
    TestKeys keys = alice_and_bob();
    Opened opened =
        verify(detached_message("alice", kEntity, read_file(work("tb-peer-sig.der"))), keys);
    CHECK(verdict(opened.status) == "good");
    CHECK(keys.harvested.size() == 1);
    // And encrypts to us; we decrypt.
    REQUIRE(run(tb + "cmsutil -E -r alice@example.test -i " + work("entity.txt") + db + " -o " +
                work("tb-peer-env.der")) == 0);
    opened =
        decrypt(pkcs7_message("alice", read_file(work("tb-peer-env.der")), "enveloped-data"), keys);
    CHECK(opened.joined().find("From a peer, with love.") != std::string::npos);
}

// Header protection (RFC 9788) changes only what is inside the signed or encrypted entity: a
// message written with protect_headers still opens and verifies in openssl cms and in
// Thunderbird's own NSS, and the protected header copy is what they find inside.
TEST_CASE_FIXTURE(Fixture, "protect_headers: openssl cms and Thunderbird's NSS still read it") {
    require_tool("openssl");
    require_tool("cmsutil");
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/lib/thunderbird/libsmime3.so"),
                    "Thunderbird is not installed (installer/deps.sh --test installs it)");
    const std::string tb = "LD_LIBRARY_PATH=/usr/lib/thunderbird ";
    const std::string ca = " -CAfile " + pki_file("root.pem");
    const std::string db = nss_db();
    std::string mail = rich_message("alice");
    mail.replace(mail.find("Subject: interop"), 16, "Subject: protected interop");
    const Identity alice = load_identity("alice");

    // Signed only (hp="clear").
    SignOptions sign_options;
    sign_options.protect_headers = true;
    const std::string signed_text = sign(mail, alice, sign_options).str();
    write_file(work("hp-signed.eml"), signed_text);
    std::string out;
    CHECK(run("openssl cms -verify -in " + work("hp-signed.eml") + ca +
                  " -purpose smimesign -out " + work("hp-content.out"),
              &out) == 0);
    CHECK(out.find("Verification successful") != std::string::npos);
    const std::string content = read_file(work("hp-content.out"));
    CHECK(content.find("Subject: protected interop\r\n") != std::string::npos);
    CHECK(content.find("hp=\"clear\"") != std::string::npos);
    const auto [signed_part, sig] = split_detached(signed_text);
    write_file(work("hp-tb-content"), signed_part);
    write_file(work("hp-tb-sig.der"), sig);
    CHECK(run(tb + "cmsutil -D -i " + work("hp-tb-sig.der") + " -c " + work("hp-tb-content") + db +
                  " -u 4",
              &out) == 0);
    CHECK(out.find("signer 0 status") == std::string::npos);

    // Signed then encrypted (hp="cipher", Subject [...] outside), AES-256-CBC with RSA v1.5.
    EncryptOptions encrypt_options;
    encrypt_options.protect_headers = true;
    encrypt_options.sign_with = &alice;
    const std::string encrypted = encrypt(mail, recipients(recipient("alice")), encrypt_options);
    CHECK(encrypted.find("Subject: [...]\r\n") != std::string::npos);
    CHECK(encrypted.find("protected interop") == std::string::npos);
    write_file(work("hp-enc.eml"), encrypted);
    CHECK(run("openssl cms -decrypt -in " + work("hp-enc.eml") + " -recip " +
              pki_file("alice.pem") + " -inkey " + pki_file("alice.key") + " -out " +
              work("hp-dec.out")) == 0);
    CHECK(run("openssl cms -verify -in " + work("hp-dec.out") + ca + " -out " +
              work("hp-content.out")) == 0);
    const std::string decrypted = read_file(work("hp-content.out"));
    CHECK(decrypted.find("Subject: protected interop\r\n") != std::string::npos);
    CHECK(decrypted.find("hp=\"cipher\"") != std::string::npos);
    CHECK(decrypted.find("HP-Outer: Subject: [...]\r\n") != std::string::npos);
    write_file(work("hp-tb-env.der"), pkcs7_der(encrypted));
    std::string plain;
    CHECK(run(tb + "cmsutil -D -i " + work("hp-tb-env.der") + db + " -p ''", &plain) == 0);
    CHECK(plain.find("Subject: protected interop") != std::string::npos);
    // What Thunderbird's NSS decrypted is the signed entity; its signature verifies there too.
    const auto inner_start = plain.find("Content-Type: multipart/signed");
    REQUIRE(inner_start != std::string::npos);
    const auto [inner_part, inner_sig] = split_detached(plain.substr(inner_start));
    write_file(work("hp-tb-inner"), inner_part);
    write_file(work("hp-tb-inner.der"), inner_sig);
    CHECK(run(tb + "cmsutil -D -i " + work("hp-tb-inner.der") + " -c " + work("hp-tb-inner") + db +
                  " -u 4",
              &out) == 0);
    CHECK(out.find("signer 0 status") == std::string::npos);
}
