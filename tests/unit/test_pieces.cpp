// SPDX-License-Identifier: MIT
// Pieces: owned buffers and borrowed views read back as one sequence of bytes.
#include "util/pieces.h"

#include "util/base64.h"

#include <doctest/doctest.h>

#include <vector>

using namespace smime;

TEST_CASE("pieces: ranges within one piece are views, ranges across pieces are gathered") {
    const std::string borrowed = "0123456789";
    Pieces pieces;
    pieces.append(SecureString(std::string("head-")));
    pieces.append_view(borrowed);
    pieces.append(SecureString(std::string()));  // empty pieces are dropped
    pieces.append(SecureString(std::string("-tail")));
    CHECK(pieces.size() == 20);
    CHECK(pieces.views().size() == 3);
    CHECK(pieces.join().str() == "head-0123456789-tail");

    std::string scratch;
    const std::string_view inside = pieces.range(7, 4, scratch);
    CHECK(inside == "2345");
    CHECK(inside.data() == borrowed.data() + 2);  // no copy
    CHECK(pieces.range(3, 5, scratch) == "d-012");
    CHECK(pieces.range(13, 100, scratch) == "89-tail");  // clamped at the end
    CHECK(pieces.range(25, 5, scratch).empty());

    // Moving keeps every view valid, also views of small owned strings.
    Pieces moved = std::move(pieces);
    CHECK(moved.join().str() == "head-0123456789-tail");
    for (std::size_t offset = 0; offset < 20; offset += 3) {
        std::string expected = std::string("head-0123456789-tail").substr(offset, 6);
        CHECK(moved.range(offset, 6, scratch) == expected);
    }
}

TEST_CASE("pieces: base64 of any range equals the base64 of its bytes, across piece boundaries") {
    // Pieces of 1 to 7 bytes put every split of a group of three at a boundary.
    std::string whole;
    std::vector<std::string> parts;
    for (int size = 1; size <= 7; ++size)
        for (int k = 0; k < 3; ++k) {
            std::string part;
            for (int i = 0; i < size; ++i)
                part.push_back(static_cast<char>((whole.size() + part.size()) * 37 % 251));
            whole += part;
            parts.push_back(part);
        }
    Pieces pieces;
    for (const auto& part : parts) pieces.append_view(part);
    REQUIRE(pieces.size() == whole.size());
    for (std::size_t offset = 0; offset <= whole.size() + 2; ++offset)
        for (std::size_t n : {0ul, 1ul, 2ul, 3ul, 4ul, 5ul, 11ul, 30ul, 1000ul}) {
            std::string out = "prefix:";
            pieces.append_base64(offset, n, out);
            const std::string bytes = offset < whole.size() ? whole.substr(offset, n) : "";
            CHECK(out == "prefix:" + base64::encode(bytes));
        }
}
