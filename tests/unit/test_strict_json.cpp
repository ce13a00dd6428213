// SPDX-License-Identifier: MIT
// strict_json::parse reads long plain strings outside the parser: it must give what a whole
// parse gives, for every shape of document, and the same errors at the same offsets.
#include "util/strict_json.h"

#include <doctest/doctest.h>

#include <string>

using namespace smime;
using json = nlohmann::json;

namespace {

std::string long_text(std::size_t n, char first = 'A') {
    std::string s(n, first);
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 7 + first) % 26);
    return s;
}

// The whole-parse reference: nlohmann itself.
json reference(const std::string& text) { return json::parse(text); }

}  // namespace

TEST_CASE("documents with long strings parse as a whole parse reads them") {
    const std::string a = long_text(300), b = long_text(5000, 'Q'), c = long_text(256, 'C');
    const std::string short_one = long_text(255, 'S');
    const std::string escaped = long_text(400, 'E') + "\\n" + long_text(10);
    const std::string unicode = long_text(400, 'U') + "\u00e9";
    const std::string docs[] = {
        R"({"id":1,"op":"message.verify","args":{"mime":")" + a + R"("}})",
        R"({"args":{"mime":")" + b + R"(","x":[")" + c + R"(",")" + short_one + R"(",")" + a +
            R"("]},"id":")" + short_one + R"("})",
        // A long key is not lifted; the value after it is.
        R"({")" + a + R"(" : ")" + b + R"(" , "k":   ")" + c + "\"\n}",
        R"([")" + escaped + R"(",")" + a + R"(",")" + unicode + R"(",")" + b + R"("])",
        "\"" + b + "\"",
        R"({"nested":{"deep":[{"v":")" + a + R"("},{"w":")" + c + R"("}]},"n":12,"t":true})",
    };
    for (const auto& text : docs) {
        CAPTURE(text.substr(0, 80));
        CHECK(strict_json::parse(text) == reference(text));
    }
}

TEST_CASE("errors and their offsets are those of the text as sent") {
    const std::string a = long_text(1000);
    const std::string broken[] = {
        R"({"mime":")" + a + R"(",})",            // trailing comma after a lifted string
        R"({"mime":")" + a + R"(" "x":1})",       // missing comma
        R"({"mime":")" + a,                       // unterminated
        R"({"mime":")" + a + "\x01" + R"("})",    // control character in a long string
        R"({"a":")" + a + R"(", "b": 1e99999})",  // number out of range
    };
    for (const auto& text : broken) {
        CAPTURE(text.substr(text.size() > 60 ? text.size() - 60 : 0));
        std::string expected, got;
        try {
            (void)reference(text);
        } catch (const json::exception& e) {
            expected = e.what();
        }
        try {
            (void)strict_json::parse(text);
        } catch (const json::exception& e) {
            got = e.what();
        }
        REQUIRE_FALSE(expected.empty());
        CHECK(got == expected);
    }
    const std::string twice = R"({"mime":")" + a + R"(","mime":")" + a + R"("})";
    CHECK_THROWS_AS(strict_json::parse(twice), strict_json::DuplicateKey);
}
