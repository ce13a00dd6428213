// SPDX-License-Identifier: MIT
// Verdicts for signatures by the generated PKI's good and bad users.
#include "support.h"

#include "mime/encoding.h"
#include "pki/cert_info.h"
#include "util/base64.h"
#include "util/error.h"

#include <openssl/cms.h>

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
    SUBCASE("valid now; at the signing time it claims, valid only inside its validity period") {
        TestKeys keys = TestKeys::with_test_root();
        const Identity alice = load_identity("alice");
        const std::time_t not_before =
            pki::to_time_t(X509_get0_notBefore(alice.certificate.get())).value();
        const auto at_signing_time = [&](std::time_t when) {
            SignOptions options;
            options.signing_time = when;
            const Status status = verify(sign(message("alice"), alice, options).str(), keys).status;
            CHECK(verdict(status) == "good");
            return status.signatures.at(0).valid_at_signing_time;
        };
        CHECK(at_signing_time(not_before + 60) == true);
        // Backdated to before the certificate existed: its path is not valid then.
        CHECK(at_signing_time(not_before - 86400) == false);
        // OpenSSL counts the second of notAfter as expired; so does the shortcut.
        const std::time_t not_after =
            pki::to_time_t(X509_get0_notAfter(alice.certificate.get())).value();
        CHECK(at_signing_time(not_after - 1) == true);
        CHECK(at_signing_time(not_after) == false);
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
        CHECK(reasons(verify_signed_by("frank", keys)) ==
              std::vector<std::string>{"weak_algorithm"});
        VerifyOptions lenient;
        lenient.min_rsa_bits = 1024;
        CHECK(verdict(verify_signed_by("frank", keys, "", lenient)) == "good");
    }
    SUBCASE("From not in the certificate: address_mismatch") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("alice", keys, "mallory")) ==
              std::vector<std::string>{"address_mismatch"});
    }
    SUBCASE("certificate without an e-mail address: address_mismatch") {
        TestKeys keys = TestKeys::with_test_root();
        CHECK(reasons(verify_signed_by("grace", keys)) ==
              std::vector<std::string>{"address_mismatch"});
    }
    SUBCASE("several problems: the worst is the verdict, all are reasons") {
        TestKeys keys;
        const Status status = verify_signed_by("carol", keys, "mallory");
        CHECK(verdict(status) == "untrusted");
        CHECK(reasons(status) ==
              std::vector<std::string>{"untrusted", "expired", "address_mismatch"});
    }
}

namespace {

Identity identity_under(const std::string& name, const std::string& issuer) {
    Identity id;
    id.certificate = load_cert(pki_file(name + ".pem"));
    id.private_key = load_key(pki_file(name + ".key"));
    id.chain.push_back(load_cert(pki_file(issuer + ".pem")));
    return id;
}

std::vector<std::string> reasons_for(const Identity& id, const std::string& from, TestKeys& keys,
                                     const VerifyOptions& options = {}) {
    return reasons(verify(sign(message(from), id).str(), keys, options).status);
}

const std::vector<std::string> kWeak{"weak_algorithm"};
const std::vector<std::string> kNone{};

}  // namespace

TEST_CASE("weak_algorithm judges every certificate of the path, not only the signer's key") {
    TestKeys keys = TestKeys::with_test_root();
    VerifyOptions sha1_allowed;
    sha1_allowed.allow_sha1 = true;
    SUBCASE("the signer's certificate signed with SHA-1: weak unless the policy allows SHA-1") {
        CHECK(reasons(verify_signed_by("ivan", keys)) == kWeak);
        CHECK(reasons(verify_signed_by("ivan", keys, "", sha1_allowed)) == kNone);
    }
    SUBCASE("the signer's certificate signed with MD5: always weak") {
        CHECK(reasons(verify_signed_by("judy", keys)) == kWeak);
        CHECK(reasons(verify_signed_by("judy", keys, "", sha1_allowed)) == kWeak);
    }
    SUBCASE("a P-192 signing key") { CHECK(reasons(verify_signed_by("mike", keys)) == kWeak); }
    SUBCASE("a 1024-bit intermediate: weak unless min_rsa_bits allows it") {
        const Identity kate = identity_under("kate", "weak-intermediate");
        CHECK(reasons_for(kate, "kate", keys) == kWeak);
        VerifyOptions lenient;
        lenient.min_rsa_bits = 1024;
        CHECK(reasons_for(kate, "kate", keys, lenient) == kNone);
    }
    SUBCASE("an intermediate signed with SHA-1") {
        const Identity leo = identity_under("leo", "sha1-intermediate");
        CHECK(reasons_for(leo, "leo", keys) == kWeak);
        CHECK(reasons_for(leo, "leo", keys, sha1_allowed) == kNone);
    }
    SUBCASE("a trust anchor is not judged by its own SHA-1 self-signature") {
        TestKeys sha1_root;
        sha1_root.anchors.push_back(load_cert(pki_file("sha1-root.pem")));
        const Identity nina = identity_under("nina", "sha1-root");
        CHECK(reasons_for(nina, "nina", sha1_root) == kNone);
    }
    SUBCASE("the weakness does not depend on the trust: an untrusted weak path is both") {
        TestKeys nobody;
        CHECK(reasons(verify_signed_by("judy", nobody)) ==
              std::vector<std::string>{"weak_algorithm", "untrusted"});
    }
}

namespace {

// Opaque SignedData by alice whose signed contentType attribute names `signed_type` while the
// encapsulated content is declared as `content_type`.
std::string signed_with_types(const std::string& entity, int signed_type, int content_type) {
    const Identity alice = load_identity("alice");
    const ossl::BioPtr in = ossl::memory_bio(entity);
    const ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
    REQUIRE(cms);
    REQUIRE(CMS_add1_signer(cms.get(), alice.certificate.get(), alice.private_key.get(),
                            EVP_sha256(), CMS_BINARY | CMS_PARTIAL) != nullptr);
    REQUIRE(CMS_set1_eContentType(cms.get(), OBJ_nid2obj(signed_type)) == 1);
    REQUIRE(CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) == 1);
    REQUIRE(CMS_set1_eContentType(cms.get(), OBJ_nid2obj(content_type)) == 1);
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
    std::string text =
        "From: alice@example.test\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n";
    smime::mime::append_base64_lines(ossl::bio_contents(out.get()), text);
    return text;
}

}  // namespace

TEST_CASE(
    "the contentType attribute must name the encapsulated content's type (RFC 5652 section 11.1)") {
    const std::string entity = "Content-Type: text/html\r\n\r\n<b>Pay 900 EUR</b>\r\n";
    SUBCASE("signed as TSTInfo, presented as data: bad_signature") {
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened =
            verify(signed_with_types(entity, NID_id_smime_ct_TSTInfo, NID_pkcs7_data), keys);
        CHECK(verdict(opened.status) == "bad_signature");
        CHECK(keys.harvested.empty());
    }
    SUBCASE("consistently TSTInfo: the signature is good, but the content is never shown as mail") {
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened = verify(
            signed_with_types(entity, NID_id_smime_ct_TSTInfo, NID_id_smime_ct_TSTInfo), keys);
        CHECK(verdict(opened.status) == "good");
        CHECK(opened.joined().find("Content-Type: application/octet-stream") != std::string::npos);
        CHECK(opened.joined().find("text/html") == std::string::npos);
    }
    SUBCASE("data, as every mail client signs") {
        TestKeys keys = TestKeys::with_test_root();
        const Opened opened =
            verify(signed_with_types(entity, NID_pkcs7_data, NID_pkcs7_data), keys);
        CHECK(verdict(opened.status) == "good");
        CHECK(opened.joined().find("Content-Type: text/html") != std::string::npos);
    }
}
