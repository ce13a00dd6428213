// SPDX-License-Identifier: MIT
// MIME building blocks: header parsing, Content-Type, multipart splitting, encodings.
#include "engine/der.h"
#include "mime/addresses.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "mime/entity.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace smime;
using namespace smime::mime;

TEST_CASE("header fields: folding, case, body without copy") {
    const std::string text =
        "From: A <A@Example.com>\r\nSubject: one\r\n two\r\ncontent-type: "
        "Text/Plain;\r\n\tcharset=\"utf-8\"\r\n\r\nbody\r\n";
    const Entity e = parse(text);
    REQUIRE(e.fields.size() == 3);
    CHECK(e.find("subject")->value == "one two");
    CHECK(e.body == "body\r\n");
    CHECK(e.body.data() == text.data() + text.find("body"));
    const ContentType ct = content_type(e);
    CHECK(ct.is("text/plain"));
    CHECK(ct.param("charset") == "utf-8");
    CHECK(from_address(e).address == "a@example.com");
}

TEST_CASE("content type parameters: quoting, RFC 2231 continuations, defaults") {
    const ContentType ct = parse_content_type(
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
        "boundary=\"a\\\"b;c\"");
    CHECK(ct.is("multipart/signed"));
    CHECK(ct.param("boundary") == "a\"b;c");
    CHECK(ct.param("micalg") == "sha-256");
    CHECK(parse_content_type("application/x; name*0=\"a\"; name*1=\"b.p7m\"").param("name") ==
          "ab.p7m");
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
    CHECK_THROWS_AS(split_multipart("--b\r\nA\r\n", "b"), Error);      // no close delimiter
    CHECK_THROWS_AS(split_multipart("--b--\r\n", "b"), Error);         // no parts
    CHECK_THROWS_AS(split_multipart("--b\r\nA\r\n--b--", ""), Error);  // no boundary
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
    const Prepared p = prepare(
        "From: a@example.test\nMIME-Version: 1.0\nSubject: s\nContent-Type: text/plain\n\nhi\n",
        true);
    CHECK(p.outer_headers == "From: a@example.test\r\nSubject: s\r\n");
    CHECK(p.entity.str() == "Content-Type: text/plain\r\n\r\nhi\r\n");
    const Prepared bare = prepare("From: a@example.test\n\n8bit \xc3\xa9\n", true);
    CHECK(bare.entity.str() ==
          "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
          "quoted-printable\r\n\r\n8bit =C3=A9\r\n");
    CHECK_THROWS_AS(
        prepare("From: a\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\xff\r\n",
                true),
        Error);
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
            REQUIRE(BIO_write(sink.get(), part.data(), static_cast<int>(part.size())) ==
                    static_cast<int>(part.size()));
            REQUIRE(BIO_flush(sink.get()) == 1);  // a flush in mid-stream changes nothing
        }
        engine::finish_base64_lines(sink.get());
        CHECK(out == expected);
    }
}

namespace {

// The rules of is_7bit_safe, is_transport_safe and is_crlf, line by line, as the header states
// them.
struct Expected {
    bool seven_bit = true, transport_safe = true, crlf = true;
};

Expected reference_scan(std::string_view text) {
    Expected e;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t nl = text.find('\n', start);
        const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view line = text.substr(start, end - start);
        if (nl != std::string_view::npos) {
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            else e.crlf = false;
        }
        for (const char c : line)
            if (c == '\0' || c == '\r' || static_cast<unsigned char>(c) >= 128) e.seven_bit = false;
        if (line.size() > 998) e.seven_bit = false;
        if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) e.transport_safe = false;
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    e.transport_safe = e.transport_safe && e.seven_bit;
    return e;
}

}  // namespace

TEST_CASE("the text scanner agrees with the line-by-line rules, wherever block edges fall") {
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const char alphabet[] = {'a',  'a',  'a',  'a',  'a',  'a',   ' ',
                             '\t', '\r', '\n', '\n', '\0', '\x80'};
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        const std::size_t size = next() % 300;
        // Mostly clean CRLF text with rare odd bytes, so that every verdict occurs.
        const unsigned odd_every = 1 + static_cast<unsigned>(next() % 200);
        for (std::size_t i = 0; i < size; ++i) {
            if (next() % odd_every == 0) text.push_back(alphabet[next() % sizeof alphabet]);
            else if (next() % 40 == 0) text += "\r\n";
            else text.push_back('x');
        }
        if (round % 50 == 0)
            text.insert(next() % (text.size() + 1), std::string(990 + next() % 20, 'y'));
        const Expected e = reference_scan(text);
        INFO("text: " << text);
        REQUIRE(is_7bit_safe(text) == e.seven_bit);
        REQUIRE(is_transport_safe(text) == e.transport_safe);
        REQUIRE(is_crlf(text) == e.crlf);
        // The same verdicts when the text arrives in pieces of any size.
        TextScanner scanner;
        for (std::size_t at = 0; at < text.size();) {
            const std::size_t piece = 1 + next() % 100;
            scanner.feed(std::string_view(text).substr(at, piece));
            at += piece;
        }
        const TextScan pieces = scanner.finish();
        REQUIRE(pieces.seven_bit == e.seven_bit);
        REQUIRE(pieces.transport_safe == e.transport_safe);
        REQUIRE(pieces.crlf == e.crlf);
        if (!e.crlf) REQUIRE(to_crlf(text) == to_crlf(to_crlf(text)));
        if (e.crlf) REQUIRE(to_crlf(text) == text);
    }
    // Lines of exactly 998 and 999 characters, with CRLF and LF endings, at every offset in a
    // block.
    for (std::size_t offset = 0; offset < 64; ++offset) {
        for (const std::size_t length : {998u, 999u}) {
            for (const char* ending : {"\r\n", "\n", ""}) {
                const std::string text = std::string(offset, 'p') + "\n" +
                                         std::string(length, 'q') + ending + (*ending ? "z" : "");
                CHECK(is_7bit_safe(text) == (length == 998));
            }
        }
    }
}

TEST_CASE("the canonical entity is written into room reserved once, with room for a signature") {
    // Growing the buffer later would free a block holding the content without wiping it.
    const std::string lf_lines = [] {
        std::string body;
        while (body.size() < 300000) body += "a line with a bare LF\n\n";
        return body;
    }();
    const std::string eight_bit = [] {
        std::string body;
        while (body.size() < 300000) body += "\xe4\xf6\xfc\xff\xe9 high bytes only\r\n";
        return body;
    }();
    for (const auto& [body, seven_bit] :
         {std::pair{lf_lines, false}, std::pair{lf_lines, true}, std::pair{eight_bit, true}}) {
        const bool seven = seven_bit;
        CAPTURE(seven);
        const std::string message =
            "From: a@example.test\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" +
            body;
        const Split parts = split(message);
        std::string out = "multipart head\r\n";
        out.reserve(64);
        append_entity(parts, seven, out);
        const std::size_t capacity = out.capacity();
        CHECK(out.size() > body.size());
        CHECK(capacity >= out.size() + 12000);  // the signature part fits without growing
        // Written as it is (CRs added): exactly that much was reserved, before the first byte. A
        // buffer that had to grow while being written would have doubled.
        if (body == lf_lines) CHECK(capacity < out.size() + 20000);
        const char* before = out.data();
        out.append(12000, 's');
        CHECK(out.data() == before);
    }
}
