// SPDX-License-Identifier: MIT
// Unit tests for the shared text helpers: ASCII lowercase, hex, UTF-8 validation.
#include <doctest/doctest.h>

#include "util/text.h"

using namespace smime;

TEST_CASE("ascii_lower lowercases ASCII letters only") {
    CHECK(text::ascii_lower("Alice@Example.ORG") == "alice@example.org");
    CHECK(text::ascii_lower("SHA256-ÄÖ") == "sha256-ÄÖ");  // UTF-8 bytes pass through unchanged
    CHECK(text::ascii_lower("") == "");
}

TEST_CASE("hex is lowercase, two digits per byte") {
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    CHECK(text::hex(bytes, sizeof bytes) == "000fa5ff");
    CHECK(text::hex(bytes, 0) == "");
}

TEST_CASE("valid_utf8 follows RFC 3629") {
    CHECK(text::valid_utf8("plain ASCII"));
    CHECK(
        text::valid_utf8("Gr\xC3\xBC\xC3\x9F"
                         "e \xE6\x97\xA5 \xF0\x9F\x94\x92"));  // 2, 3 and 4 bytes
    CHECK(text::valid_utf8("\xF4\x8F\xBF\xBF"));               // U+10FFFF, the last code point
    CHECK_FALSE(text::valid_utf8("\xC0\x80"));                 // overlong NUL
    CHECK_FALSE(text::valid_utf8("\xE0\x80\xAF"));             // overlong '/'
    CHECK_FALSE(text::valid_utf8("\xED\xA0\x80"));             // a UTF-16 surrogate
    CHECK_FALSE(text::valid_utf8("\xF4\x90\x80\x80"));         // above U+10FFFF
    CHECK_FALSE(text::valid_utf8("\xC3"));                     // truncated
    CHECK_FALSE(text::valid_utf8("\xE6\x97"));                 // truncated
    CHECK_FALSE(text::valid_utf8("\x80"));                     // a lone continuation byte
    CHECK_FALSE(text::valid_utf8("\xC3\x28"));  // a lead byte without its continuation
}
