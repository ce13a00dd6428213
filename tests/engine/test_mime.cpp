// SPDX-License-Identifier: MIT
// MIME building blocks: header parsing, Content-Type, multipart splitting, encodings.
#include "cms/der.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "mime/entity.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace smime;
using namespace smime::mime;

TEST_CASE("header fields: folding, case, body without copy") {
    const std::string text = "From: A <A@Example.com>\r\nSubject: one\r\n two\r\ncontent-type: Text/Plain;\r\n\tcharset=\"utf-8\"\r\n\r\nbody\r\n";
    const Entity e = parse(text);
    REQUIRE(e.fields.size() == 3);
    CHECK(e.find("subject")->value == "one two");
    CHECK(e.body == "body\r\n");
    CHECK(e.body.data() == text.data() + text.find("body"));
    const ContentType ct = content_type(e);
    CHECK(ct.is("text/plain"));
    CHECK(ct.param("charset") == "utf-8");
    CHECK(first_address(e.find("From")->value) == "a@example.com");
    CHECK(first_address("bob@example.com (Bob)") == "bob@example.com");
    CHECK(first_address("undisclosed-recipients:;").empty());
}

TEST_CASE("content type parameters: quoting, RFC 2231 continuations, defaults") {
    const ContentType ct = parse_content_type(
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"a\\\"b;c\"");
    CHECK(ct.is("multipart/signed"));
    CHECK(ct.param("boundary") == "a\"b;c");
    CHECK(ct.param("micalg") == "sha-256");
    CHECK(parse_content_type("application/x; name*0=\"a\"; name*1=\"b.p7m\"").param("name") == "ab.p7m");
    const Entity none = parse("\r\nno headers");
    CHECK(none.fields.empty());
    CHECK(content_type(none).is("text/plain"));
    CHECK(transfer_encoding(none) == "7bit");
}

TEST_CASE("multipart: parts exclude the delimiter's line break; transport padding; LF only") {
    const std::string body = "preamble\r\n--b \r\nA\r\n\r\n--b\r\nB\r\n--b--  \r\nepilogue";
    const Multipart m = split_multipart(body, "b");
    CHECK(m.preamble == "preamble");
    REQUIRE(m.parts.size() == 2);
    CHECK(m.parts[0] == "A\r\n");
    CHECK(m.parts[1] == "B");
    CHECK(m.epilogue == "epilogue");
    const Multipart lf = split_multipart("--b\nx\n--bb\n--b--\n", "b");
    REQUIRE(lf.parts.size() == 1);
    CHECK(lf.parts[0] == "x\n--bb");
}

TEST_CASE("malformed MIME is BadMessage") {
    CHECK_THROWS_AS(parse("no colon here\r\n\r\n"), Error);
    CHECK_THROWS_AS(parse(" continuation first\r\n\r\n"), Error);
    CHECK_THROWS_AS(split_multipart("--b\r\nA\r\n", "b"), Error);          // no close delimiter
    CHECK_THROWS_AS(split_multipart("--b--\r\n", "b"), Error);             // no parts
    CHECK_THROWS_AS(split_multipart("--b\r\nA\r\n--b--", ""), Error);      // no boundary
    std::string many;
    for (int i = 0; i < 1001; ++i) many += "X-A: 1\r\n";
    CHECK_THROWS_AS(parse(many + "\r\n"), Error);
}

TEST_CASE("encodings") {
    CHECK(to_crlf("a\nb\r\nc\n") == "a\r\nb\r\nc\r\n");
    CHECK(is_7bit_safe("plain\r\ntext"));
    CHECK(!is_7bit_safe("caf\xc3\xa9"));
    CHECK(!is_7bit_safe(std::string(999, 'x')));
    CHECK(!is_transport_safe("trailing \r\nx"));
    std::string qp;
    append_quoted_printable("caf\xc3\xa9 = ok \nFrom me\n.\n", qp);
    CHECK(qp == "caf=C3=A9 =3D ok=20\r\n=46rom me\r\n=2E\r\n");
    std::string long_qp;
    append_quoted_printable(std::string(200, 'a'), long_qp);
    CHECK(long_qp.find("=\r\n") == 75);
    std::string decoded;
    CHECK(decode_body("caf=C3=A9 =\r\nsoft", "quoted-printable", decoded));
    CHECK(decoded == "caf\xc3\xa9 soft");
    std::string b64;
    append_base64_lines(std::string(100, '\0'), b64);
    CHECK(b64.find("\r\n") == 76);
    CHECK(!decode_body("x", "x-uuencode", decoded));
}

TEST_CASE("prepare separates outer fields from the content entity") {
    const Prepared p = prepare("From: a@example.test\nMIME-Version: 1.0\nSubject: s\nContent-Type: text/plain\n\nhi\n", true);
    CHECK(p.outer_headers == "From: a@example.test\r\nSubject: s\r\n");
    CHECK(p.entity.str() == "Content-Type: text/plain\r\n\r\nhi\r\n");
    const Prepared bare = prepare("From: a@example.test\n\n8bit \xc3\xa9\n", true);
    CHECK(bare.entity.str() == "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n8bit =C3=A9\r\n");
    CHECK_THROWS_AS(prepare("From: a\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\xff\r\n", true), Error);
}

TEST_CASE("the base64 lines sink writes what one call would, whatever the pieces") {
    std::string data(10000, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
    std::string expected;
    mime::append_base64_lines(data, expected);
    for (const std::size_t piece : {1u, 2u, 56u, 57u, 58u, 100u, 4096u, 10000u}) {
        std::string out;
        const ossl::BioPtr sink = engine::base64_lines_sink(out);
        for (std::size_t at = 0; at < data.size(); at += piece) {
            const std::string_view part = std::string_view(data).substr(at, piece);
            REQUIRE(BIO_write(sink.get(), part.data(), static_cast<int>(part.size())) == static_cast<int>(part.size()));
            REQUIRE(BIO_flush(sink.get()) == 1);  // a flush in mid-stream changes nothing
        }
        engine::finish_base64_lines(sink.get());
        CHECK(out == expected);
    }
}
