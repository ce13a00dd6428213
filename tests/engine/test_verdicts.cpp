// SPDX-License-Identifier: MIT
// Verdicts for signatures by the generated PKI's good and bad users.
#include "support.h"

#include "mime/encoding.h"
#include "util/base64.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace test;

namespace {

Status verify_signed_by(const std::string& name, TestKeys& keys, const std::string& from = "",
                        const VerifyOptions& options = {}) {
    const Identity id = load_identity(name);
    const std::string text = message(from.empty() ? name : from);
    return verify(sign(text, id).str(), keys, options).status;
}

}  // namespace

TEST_CASE("content changed after signing gives bad_signature, and nothing is harvested") {
    const Identity alice = load_identity("alice");
    for (const bool opaque : {false, true}) {
        CAPTURE(opaque);
        SignOptions options;
        options.opaque = opaque;
        std::string text = sign(message("alice"), alice, options).str();
        if (opaque) {
            // Change the encapsulated content inside the DER and re-encode it.
            const auto body = text.find("\r\n\r\n") + 4;
            std::string der;
            REQUIRE(smime::base64::decode_lenient_append(std::string_view(text).substr(body), der));
            der.replace(der.find("Hello"), 5, "Jello");
            text.resize(body);
            smime::mime::append_base64_lines(der, text);
        } else {
            text.replace(text.find("Hello"), 5, "Jello");
        }
        TestKeys keys = TestKeys::with_test_root();
        Status status;
        try {
            status = verify(text, keys).status;
        } catch (const smime::Error& e) {
            // A change that breaks the DER structure is a malformed message instead.
            CHECK(e.code() == smime::Code::BadMessage);
            continue;
        }
        CHECK(verdict(status) == "bad_signature");
        CHECK(keys.harvested.empty());
    }
}

TEST_CASE("trailing whitespace and LF line ends: the canonical form is what is signed") {
    const Identity alice = load_identity("alice");
    const std::string signed_text = sign(message("alice", "trailing   \r\nline\r\n"), alice).str();
    // A mail store that keeps LF line ends still verifies.
    std::string lf;
    for (const char c : signed_text) {
        if (c != '\r') lf.push_back(c);
    }
    TestKeys keys = TestKeys::with_test_root();
    CHECK(verdict(verify(lf, keys).status) == "good");
    // A relay that strips trailing whitespace breaks nothing: quoted-printable protects it.
    CHECK(signed_text.find("trailing  =20") != std::string::npos);
}

TEST_CASE("certificate problems") {
    SUBCASE("no anchor: untrusted") {
        TestKeys keys;
        CHECK(reasons(verify_signed_by("alice", keys)) == std::vector<std::string>{"untrusted"});
    }
    SUBCASE("another root: untrusted") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("mallory", keys)) == std::vector<std::string>{"untrusted"});
    }
    SUBCASE("expired") {
        TestKeys keys = TestKeys::with_test_root();
        const Status status = verify_signed_by("carol", keys);
        CHECK(verdict(status) == "expired");
        CHECK(status.signatures[0].valid_at_signing_time == false);
    }
    SUBCASE("serverAuth only: bad_key_usage") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("dave", keys)) == std::vector<std::string>{"bad_key_usage"});
    }
    SUBCASE("revoked, CRL from the key store") {
        TestKeys keys = TestKeys::with_test_root();
        keys.crl_list.push_back(load_crl(pki_file("intermediate.crl")));
        CHECK(reasons(verify_signed_by("eve", keys)) == std::vector<std::string>{"revoked"});
        // Without the CRL nobody knows.
        TestKeys unaware = TestKeys::with_test_root();
        CHECK(verdict(verify_signed_by("eve", unaware)) == "good");
        // The CRL does not affect others.
        CHECK(verdict(verify_signed_by("alice", keys)) == "good");
    }
    SUBCASE("1024-bit RSA: weak_algorithm, unless the policy allows it") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("frank", keys)) == std::vector<std::string>{"weak_algorithm"});
        VerifyOptions lenient;
        lenient.min_rsa_bits = 1024;
        CHECK(verdict(verify_signed_by("frank", keys, "", lenient)) == "good");
    }
    SUBCASE("From not in the certificate: address_mismatch") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("alice", keys, "mallory")) == std::vector<std::string>{"address_mismatch"});
    }
    SUBCASE("certificate without an e-mail address: address_mismatch") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("grace", keys)) == std::vector<std::string>{"address_mismatch"});
    }
    SUBCASE("several problems: the worst is the verdict, all are reasons") {
        TestKeys keys;
        const Status status = verify_signed_by("carol", keys, "mallory");
        CHECK(verdict(status) == "untrusted");
        CHECK(reasons(status) == std::vector<std::string>{"untrusted", "expired", "address_mismatch"});
    }
}
