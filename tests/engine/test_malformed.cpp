// SPDX-License-Identifier: MIT
// Hostile and broken input: every case is Error(BadMessage) (or, for encrypted layers, the
// uniform DecryptFailed), never a crash or a hang.
#include "support.h"

#include "mime/encoding.h"
#include "util/error.h"

#include <openssl/cms.h>

#include <doctest/doctest.h>

using namespace test;

namespace {

std::string pkcs7(const std::string& der) {
    std::string out =
        "Content-Type: application/pkcs7-mime; "
        "smime-type=signed-data\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    smime::mime::append_base64_lines(der, out);
    return out;
}

}  // namespace

TEST_CASE("truncated messages") {
    const Identity alice = load_identity("alice");
    SignOptions opaque;
    opaque.opaque = true;
    const std::string detached = sign(message("alice"), alice).str();
    const std::string enveloped = encrypt(message("alice"), recipients(recipient("alice")));
    const std::string wrapped = sign(message("alice"), alice, opaque).str();
    for (const std::string* text : {&detached, &enveloped, &wrapped}) {
        for (const double fraction : {0.3, 0.6, 0.9, 0.97}) {
            CAPTURE(fraction);
            const std::string cut = text->substr(
                0, static_cast<std::size_t>(static_cast<double>(text->size()) * fraction));
            const smime::Code code = alice_decrypt_error(cut);
            CHECK((code == smime::Code::BadMessage || code == smime::Code::DecryptFailed));
        }
    }
}

TEST_CASE("missing boundaries, bogus lengths, garbage") {
    CHECK(alice_decrypt_error("Content-Type: multipart/signed; "
                              "protocol=\"application/pkcs7-signature\"\r\n\r\n--x\r\n") ==
          smime::Code::BadMessage);
    CHECK(alice_decrypt_error(
              "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
              "boundary=x\r\n\r\n"
              "--x\r\nhi\r\n--x--\r\n") == smime::Code::BadMessage);
    CHECK(alice_decrypt_error(pkcs7("")) == smime::Code::BadMessage);
    CHECK(alice_decrypt_error(pkcs7("\x30\x84\x7f\xff\xff\xff\x06\x09")) ==
          smime::Code::BadMessage);  // length past the end
    CHECK(alice_decrypt_error(
              pkcs7(std::string("\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x80",
                                15))) == smime::Code::BadMessage);  // indefinite, cut
    CHECK(alice_decrypt_error(pkcs7(std::string(1000, '\xff'))) == smime::Code::BadMessage);
    CHECK(alice_decrypt_error("Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: "
                              "base64\r\n\r\n!!!!\r\n") == smime::Code::BadMessage);
    CHECK(alice_decrypt_error("Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: "
                              "x-bogus\r\n\r\nAAAA\r\n") == smime::Code::BadMessage);
}

TEST_CASE("huge nesting is capped") {
    // Opaque signed-data nested 12 deep: the walker stops at its layer limit.
    const Identity alice = load_identity("alice");
    SignOptions opaque;
    opaque.opaque = true;
    std::string text = message("alice");
    for (int i = 0; i < 12; ++i) text = sign(text, alice, opaque).str();
    CHECK(alice_decrypt_error(text) == smime::Code::BadMessage);
    // Deep multipart nesting when signing.
    std::string deep = "Content-Type: text/plain\r\n\r\n\xc3\xa9\r\n";
    for (int i = 0; i < 40; ++i) {
        const std::string b = "b" + std::to_string(i);
        deep = "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n" + deep +
               "\r\n--" + b + "--\r\n";
    }
    CHECK_THROWS_AS(sign("From: alice@example.test\r\n" + deep, alice), smime::Error);
}

TEST_CASE(
    "a part declared as signed-data or enveloped-data that is not: ERR_BAD_MESSAGE, never level "
    "none") {
    // A well-formed CMS object of another type (id-data) under each declaration.
    const ossl::BioPtr in = ossl::memory_bio("Content-Type: text/plain\r\n\r\nhello\r\n");
    const ossl::CmsPtr data(CMS_data_create(in.get(), CMS_BINARY));
    REQUIRE(data);
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    REQUIRE(i2d_CMS_bio(out.get(), data.get()) == 1);
    const std::string der = ossl::bio_contents(out.get());
    for (const char* declared : {"signed-data", "enveloped-data", "authEnveloped-data"}) {
        CAPTURE(declared);
        std::string text =
            std::string(
                "From: alice@example.test\r\nContent-Type: application/pkcs7-mime; smime-type=") +
            declared + "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
        smime::mime::append_base64_lines(der, text);
        CHECK(alice_decrypt_error(text) == smime::Code::BadMessage);
        CHECK_THROWS_AS(inspect(text), smime::Error);
        TestKeys keys;
        CHECK_THROWS_AS(verify(text, keys), smime::Error);
    }
    // Not CMS at all, under either declaration, in every mode.
    for (const char* declared : {"signed-data", "enveloped-data"}) {
        CAPTURE(declared);
        const std::string text =
            std::string("Content-Type: application/pkcs7-mime; smime-type=") + declared +
            "\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8sIHdvcmxkIQ==\r\n";
        CHECK(alice_decrypt_error(text) == smime::Code::BadMessage);
        CHECK_THROWS_AS(inspect(text), smime::Error);
    }
}
