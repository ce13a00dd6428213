// SPDX-License-Identifier: MIT
// Unit tests for the payload base64 codec (RFC 4648 test vectors plus strictness).
#include "util/base64.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

using namespace smime;

TEST_CASE("RFC 4648 section 10 vectors") {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [raw, enc] : vectors) {
        CHECK(base64::encode(raw) == enc);
        std::string out;
        CHECK(base64::decode_append(enc, out));
        CHECK(out == raw);
    }
}

TEST_CASE("strict decoding rejects malformed text") {
    std::string out;
    CHECK_FALSE(base64::decode_append("Zg=", out));       // length not a multiple of 4
    CHECK_FALSE(base64::decode_append("Zm9v!A==", out));  // invalid character
    CHECK_FALSE(base64::decode_append("Zm 9", out));      // whitespace
    CHECK_FALSE(base64::decode_append("Z===", out));      // too much padding
    CHECK_FALSE(base64::decode_append("Zg==Zg==", out));  // padding in the middle
}

TEST_CASE("lenient decoding skips MIME line breaks") {
    std::string out;
    CHECK(base64::decode_lenient_append("Zm9v\r\nYmFy\r\n", out));
    CHECK(out == "foobar");
}

TEST_CASE("round trip of random binary data of every small length") {
    std::mt19937 rng(42);
    for (std::size_t len = 0; len < 300; ++len) {
        std::string raw(len, '\0');
        for (auto& c : raw) c = static_cast<char>(rng());
        std::string back;
        REQUIRE(base64::decode_append(base64::encode(raw), back));
        CHECK(back == raw);
    }
}

TEST_CASE("agrees with OpenSSL's encoder, and decoding appends after existing bytes") {
    std::mt19937 rng(7);
    std::vector<std::size_t> lengths;
    for (std::size_t len = 0; len < 200; ++len) lengths.push_back(len);
    for (std::size_t len : {1000u, 4096u, 65537u, 1000003u})
        lengths.push_back(len);  // the wide loops
    for (const std::size_t len : lengths) {
        std::string raw(len, '\0');
        for (auto& c : raw) c = static_cast<char>(rng());
        std::string reference(4 * ((len + 2) / 3) + 1, '\0');
        const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(reference.data()),
                                      reinterpret_cast<const unsigned char*>(raw.data()),
                                      static_cast<int>(len));
        reference.resize(static_cast<std::size_t>(n));
        CHECK(base64::encode(raw) == reference);
        std::string out = "prefix";
        REQUIRE(base64::decode_append(reference, out));
        CHECK(out == "prefix" + raw);
    }
}

TEST_CASE("an invalid character anywhere is rejected") {
    std::string sentence;
    for (int i = 0; i < 3; ++i) sentence += "The quick brown fox jumps over the lazy dog!";
    const std::string good = base64::encode(sentence);
    for (std::size_t i = 0; i < good.size(); ++i)
        for (const char bad : {'!', '-', '_', ' ', '\n', '\0', '\x80', '\xff', '='}) {
            std::string text = good;
            if (bad == '=' && i >= good.size() - 2) continue;  // that is padding
            text[i] = bad;
            std::string out;
            CHECK_FALSE(base64::decode_append(text, out));
        }
}

TEST_CASE("decoding into a buffer reserved for the exact size does not reallocate") {
    for (const std::size_t len : {0u, 1u, 2u, 3u, 24u, 25u, 26u, 96u, 97u, 98u, 1000u, 768000u}) {
        std::string raw(len, '\0');
        for (std::size_t i = 0; i < len; ++i) raw[i] = static_cast<char>(i * 131);
        const std::string text = base64::encode(raw);
        std::string out;
        out.reserve(len);
        const char* before = out.data();
        REQUIRE(base64::decode_append(text, out));
        CHECK(out == raw);
        if (len > 15) CHECK(out.data() == before);  // small strings live inside the object
    }
}

TEST_CASE(
    "lenient decoding of wrapped text agrees with the plain decoder, in place and stopped early") {
    std::mt19937 rng(11);
    for (const std::size_t len : {0u, 1u, 47u, 48u, 57u, 100u, 1000u, 65537u, 300001u}) {
        std::string raw(len, '\0');
        for (auto& c : raw) c = static_cast<char>(rng());
        const std::string plain = base64::encode(raw);
        // Lines of every width around the wide loop's 32 characters, ends of CRLF, LF or spaces.
        for (const std::size_t width : {4u, 31u, 32u, 33u, 64u, 76u, 1000u}) {
            for (const char* eol : {"\r\n", "\n", " \t "}) {
                std::string wrapped;
                for (std::size_t i = 0; i < plain.size(); i += width)
                    wrapped.append(plain, i, width).append(eol);
                std::string out;
                REQUIRE(base64::decode_lenient_append(wrapped, out));
                CHECK(out == raw);
                std::string in_place = wrapped;
                const auto size = base64::decode_lenient_to(
                    in_place, reinterpret_cast<unsigned char*>(in_place.data()));
                REQUIRE(size);
                CHECK(in_place.substr(0, *size) == raw);
                unsigned char head[48 + 8];
                const auto head_size = base64::decode_lenient_to(wrapped, head, 16);
                REQUIRE(head_size);
                CHECK(std::string(reinterpret_cast<const char*>(head), *head_size) ==
                      raw.substr(0, 48));
            }
        }
        // A bad character or base64 after the padding, anywhere in a long run, is refused.
        if (plain.size() > 100) {
            std::string bad = plain;
            bad[plain.size() / 2] = '*';
            std::string out;
            CHECK_FALSE(base64::decode_lenient_append(bad, out));
            if (plain.back() == '=') {
                std::string after = plain + plain;
                CHECK_FALSE(base64::decode_lenient_append(after, out));
            }
        }
    }
}

TEST_CASE(
    "every byte value, at every place of a wide block, decodes as OpenSSL decodes it or is "
    "refused") {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t place = 0; place < 32; ++place) {
        for (int value = 0; value < 256; ++value) {
            std::string text(64, 'Q');
            for (std::size_t i = 0; i < text.size(); ++i) text[i] = alphabet[(i * 7 + place) % 64];
            text[place] = static_cast<char>(value);
            std::string out;
            const bool ok = base64::decode_append(text, out);
            const bool valid = alphabet.find(static_cast<char>(value)) != std::string::npos;
            CHECK(ok == valid);
            if (!ok || !valid) continue;
            unsigned char expected[48];
            REQUIRE(EVP_DecodeBlock(expected, reinterpret_cast<const unsigned char*>(text.data()),
                                    static_cast<int>(text.size())) == 48);
            CHECK(out == std::string(reinterpret_cast<const char*>(expected), 48));
        }
    }
}

TEST_CASE("MIME lines: 57 bytes a line with CRLF, as OpenSSL encodes each line, at every length") {
    std::mt19937 rng(5);
    std::vector<std::size_t> lengths;
    for (std::size_t len = 0; len < 400; ++len) lengths.push_back(len);
    for (std::size_t len : {57u * 100, 57u * 100 + 18, 57u * 100 + 19, 1000003u})
        lengths.push_back(len);
    for (const std::size_t len : lengths) {
        std::string raw(len, '\0');
        for (auto& c : raw) c = static_cast<char>(rng());
        std::string expected;
        for (std::size_t at = 0; at < len; at += 57) {
            const std::size_t n = std::min<std::size_t>(57, len - at);
            unsigned char line[80];
            const int written = EVP_EncodeBlock(
                line, reinterpret_cast<const unsigned char*>(raw.data()) + at, static_cast<int>(n));
            expected.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(written));
            expected += "\r\n";
        }
        REQUIRE(base64::encoded_lines_size(len, 57) == expected.size());
        // Bytes around the output stay as they were.
        std::string out(expected.size() + 64, '#');
        base64::encode_lines_to(reinterpret_cast<const unsigned char*>(raw.data()), len,
                                out.data() + 32, 57);
        CHECK(out.substr(32, expected.size()) == expected);
        CHECK(out.substr(0, 32) == std::string(32, '#'));
        CHECK(out.substr(32 + expected.size()) == std::string(32, '#'));
    }
}
