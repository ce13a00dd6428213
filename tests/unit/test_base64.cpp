// SPDX-License-Identifier: MIT
// Unit tests for the payload base64 codec (RFC 4648 test vectors plus strictness).
#include "util/base64.h"

#include <doctest/doctest.h>

#include <random>

using namespace smime;

TEST_CASE("RFC 4648 section 10 vectors") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [raw, enc] : vectors) {
        CHECK(base64::encode(raw) == enc);
        std::string out;
        CHECK(base64::decode_append(enc, out));
        CHECK(out == raw);
    }
}

TEST_CASE("strict decoding rejects malformed text") {
    std::string out;
    CHECK_FALSE(base64::decode_append("Zg=", out));     // length not a multiple of 4
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
