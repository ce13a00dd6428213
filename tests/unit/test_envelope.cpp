// SPDX-License-Identifier: MIT
// Unit tests for the request envelope: strict validation, and the chunk fast path agreeing
// with the full parser.
#include "protocol/envelope.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace smime;
using json = nlohmann::json;

namespace {
Code parse_error_code(const std::string& text, json& id) {
    try {
        envelope::parse(text, id);
    } catch (const Error& e) {
        return e.code();
    }
    FAIL("expected an error for " << text);
    return Code::Internal;
}
}  // namespace

TEST_CASE("well-formed requests parse") {
    json id;
    auto p = envelope::parse(R"({"id":"a1","op":"hello"})", id);
    CHECK(id == "a1");
    CHECK(p.op == "hello");
    CHECK(p.args == json::object());
    auto q = envelope::parse(R"({"op":"echo","args":{"text":"x"},"id":7})", id);
    CHECK(id == 7);
    CHECK(q.args["text"] == "x");
}

TEST_CASE("malformed envelopes give stable codes and keep the id when known") {
    json id;
    CHECK(parse_error_code("{", id) == Code::BadJson);
    CHECK(parse_error_code("\xff\xfe", id) == Code::BadJson);
    CHECK(parse_error_code("{\"id\":1,\"op\":\"\xc3\x28\"}", id) ==
          Code::BadJson);  // invalid UTF-8
    CHECK(parse_error_code("[]", id) == Code::BadRequest);
    CHECK(parse_error_code("\"hello\"", id) == Code::BadRequest);
    id = nullptr;
    CHECK(parse_error_code(R"({"id":5})", id) == Code::BadRequest);
    CHECK(id == 5);
    CHECK(parse_error_code(R"({"id":6,"op":3})", id) == Code::BadRequest);
    CHECK(parse_error_code(R"({"id":6,"op":"x","args":[]})", id) == Code::BadRequest);
    CHECK(parse_error_code(R"({"id":6,"op":"x","extra":1})", id) == Code::BadRequest);
    id = nullptr;
    CHECK(parse_error_code(R"({"id":1.5,"op":"x"})", id) == Code::BadRequest);
    CHECK(id.is_null());
    CHECK(parse_error_code(R"({"id":{"a":1},"op":"x"})", id) == Code::BadRequest);
    CHECK(parse_error_code(R"({"id":")" + std::string(300, 'a') + R"(","op":"x"})", id) ==
          Code::BadRequest);
}

TEST_CASE("chunk frames: fast path and full parser agree") {
    const std::string frames[] = {
        R"({"id":1,"chunk":0,"data":"QUJD"})",
        R"({ "data" : "QUJD", "chunk": 3 , "id": "up-1" })",
        R"({"id":-4,"chunk":12,"data":""})",
    };
    for (const auto& text : frames) {
        auto fast = envelope::parse_chunk_fast(text);
        REQUIRE(fast.has_value());
        json id;
        auto slow = envelope::parse(text, id);
        REQUIRE(slow.is_chunk);
        CHECK(envelope::id_key(fast->id) == envelope::id_key(slow.chunk.id));
        CHECK(fast->index == slow.chunk.index);
        CHECK(fast->data == slow.chunk.data);
    }
}

TEST_CASE("unusual chunk frames leave the fast path and are judged by the parser") {
    json id;
    const std::string odd[] = {
        R"({"id":1,"chunk":0,"data":"QU\/D"})",          // escape in data
        R"({"id":1,"chunk":0,"data":"QUJD","x":1})",     // extra member
        R"({"id":1,"chunk":-1,"data":"QUJD"})",          // negative index
        R"({"id":1,"chunk":0.5,"data":"QUJD"})",         // fraction
        R"({"id":1,"chunk":0,"data":"QUJD"} trailing)",  // trailing bytes
        R"({"id":1,"chunk":0})",                         // no data
        R"({"id":"\u00e9","chunk":0,"data":"QUJD"})",    // escaped id
    };
    for (const auto& text : odd) {
        CHECK_FALSE(envelope::parse_chunk_fast(text).has_value());
    }
    CHECK_NOTHROW(envelope::parse(odd[0], id));
    CHECK(parse_error_code(odd[1], id) == Code::BadRequest);
    CHECK(parse_error_code(odd[2], id) == Code::BadRequest);
    CHECK(parse_error_code(odd[3], id) == Code::BadRequest);
    CHECK(parse_error_code(odd[4], id) == Code::BadJson);
    CHECK(parse_error_code(odd[5], id) == Code::BadRequest);
    CHECK(envelope::parse(odd[6], id).is_chunk);
}

TEST_CASE("a number beyond a double's range is bad JSON, and the error does not quote it") {
    json id;
    try {
        envelope::parse(R"({"id":1,"op":"hello","args":{"n":7.77e999}})", id);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == Code::BadJson);
        CHECK(std::string(e.what()).find("7.77") == std::string::npos);
        CHECK(e.details().dump().find("7.77") == std::string::npos);
    }
    CHECK(parse_error_code(R"({"id":1,"op":"hello","args":{"n":-1e400}})", id) == Code::BadJson);
}

TEST_CASE("a member name twice in one object is bad JSON, at any depth") {
    json id;
    CHECK(parse_error_code(R"({"id":1,"op":"hello","op":"echo"})", id) == Code::BadJson);
    CHECK(parse_error_code(R"({"id":1,"op":"echo","args":{"a":{"x":1,"x":2}}})", id) ==
          Code::BadJson);
    CHECK(parse_error_code(R"({"id":1,"chunk":0,"data":"QQ==","data":"Qg=="})", id) ==
          Code::BadJson);
    // The same name in sibling objects is fine.
    auto p = envelope::parse(R"({"id":1,"op":"echo","args":{"a":{"x":1},"b":{"x":2}}})", id);
    CHECK(p.args["b"]["x"] == 2);
}
