// SPDX-License-Identifier: MIT
// Unit tests for the request loop: dispatch, error mapping, chunked payloads both ways.
#include "protocol/limits.h"
#include "protocol/session.h"
#include "support/frames.h"
#include "util/base64.h"

#include <doctest/doctest.h>

#include <cstring>
#include <functional>

using namespace smime;

namespace {

struct Result {
    std::vector<json> replies;
    int exit_code = -1;
};

// A session reading its frames from `source` (as read_stdin is called), to the end.
Result serve_from(std::function<long(char*, std::size_t)> source) {
    frame::Reader reader(std::move(source), limits::kMaxIncomingFrame);
    std::string output;
    frame::Writer writer(
        [&output](const char* a, std::size_t an, const char* b, std::size_t bn) {
            output.append(a, an).append(b, bn);
            return true;
        },
        limits::kMaxOutgoingFrame);
    Context context(Caller{}, {});
    Session session(registry(), context, reader, writer);
    Result r;
    r.exit_code = session.run();
    for (const auto& body : test::split_frames(output)) {
        CHECK(body.size() <= limits::kMaxOutgoingFrame);
        r.replies.push_back(json::parse(body));
    }
    return r;
}

Result serve(const std::string& input) {
    auto pos = std::make_shared<std::size_t>(0);
    return serve_from([&input, pos](char* dst, std::size_t size) -> long {
        const std::size_t n = std::min(size, input.size() - *pos);
        std::memcpy(dst, input.data() + *pos, n);
        *pos += n;
        return static_cast<long>(n);
    });
}

std::string frames(std::initializer_list<json> list) {
    std::string out;
    for (const auto& j : list) out += test::frame(j);
    return out;
}

std::string error_code(const json& reply) { return reply["error"]["code"].get<std::string>(); }

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7919) >> 3);
    return s;
}

// Reassembles a chunked reply the way an extension would.
std::string collect(const std::vector<json>& replies, std::size_t head, const char* field) {
    const json& ref = replies[head]["result"][field];
    if (ref.is_string()) {
        std::string out;
        REQUIRE(base64::decode_append(ref.get<std::string>(), out));
        return out;
    }
    const auto chunks = ref["chunks"].get<std::size_t>();
    std::string out;
    for (std::size_t i = 0; i < chunks; ++i) {
        const json& c = replies.at(head + 1 + i);
        CHECK(c["id"] == replies[head]["id"]);
        CHECK(c["chunk"] == i);
        REQUIRE(base64::decode_append(c["data"].get<std::string>(), out));
    }
    CHECK(out.size() == ref["size"].get<std::size_t>());
    return out;
}

}  // namespace

TEST_CASE("hello describes the host and lists operations") {
    auto r = serve(frames({{{"id", 1}, {"op", "hello"}}}));
    REQUIRE(r.replies.size() == 1);
    CHECK(r.replies[0]["ok"] == true);
    CHECK(r.replies[0]["id"] == 1);
    CHECK(r.replies[0]["result"]["protocol"] == 2);
    CHECK(r.replies[0]["result"]["openssl"].get<std::string>().rfind("OpenSSL 3", 0) == 0);
    const auto ops = r.replies[0]["result"]["operations"];
    CHECK(std::find(ops.begin(), ops.end(), "echo") != ops.end());
    CHECK(r.exit_code == 0);
}

TEST_CASE("each bad frame gets its own error and the next frame is still served") {
    std::string input = test::frame(std::string("not json")) + test::frame(std::string("[1,2]")) +
                        frames({{{"id", "u"}, {"op", "no.such"}},
                                {{"id", 2}, {"op", "echo"}, {"args", {{"text", 5}}}},
                                {{"id", 3}, {"op", "echo"}, {"args", {{"bogus", true}}}},
                                {{"id", 4}, {"op", "echo"}, {"args", {{"data", "not base64!"}}}},
                                {{"id", 5}, {"op", "echo"}, {"args", {{"text", "ok"}}}}});
    auto r = serve(input);
    REQUIRE(r.replies.size() == 7);
    CHECK(error_code(r.replies[0]) == "ERR_BAD_JSON");
    CHECK(r.replies[0]["id"].is_null());
    CHECK(error_code(r.replies[1]) == "ERR_BAD_REQUEST");
    CHECK(error_code(r.replies[2]) == "ERR_UNKNOWN_OP");
    CHECK(r.replies[2]["id"] == "u");
    CHECK(error_code(r.replies[3]) == "ERR_BAD_REQUEST");
    CHECK(r.replies[3]["error"]["details"]["field"] == "args.text");
    CHECK(error_code(r.replies[4]) == "ERR_BAD_REQUEST");
    CHECK(error_code(r.replies[5]) == "ERR_BAD_REQUEST");
    CHECK(r.replies[6]["ok"] == true);
    CHECK(r.replies[6]["result"]["text"] == "ok");
}

TEST_CASE("a chunked upload is reassembled and a large reply is chunked under 1 MiB") {
    const std::string payload = pattern(3 * 1000 * 1000 + 17);
    std::string input =
        test::frame(json{{"id", "big"},
                         {"op", "echo"},
                         {"args", {{"data", {{"chunks", 4}, {"size", payload.size()}}}}}});
    const std::size_t piece = 999999;  // multiple of 3 so each chunk is standalone base64
    for (std::size_t i = 0; i < 4; ++i)
        input += test::frame(json{{"id", "big"},
                                  {"chunk", i},
                                  {"data", base64::encode(payload.substr(i * piece, piece))}});
    auto r = serve(input);
    REQUIRE(r.replies.size() >= 2);
    CHECK(r.replies[0]["ok"] == true);
    CHECK(r.replies[0]["result"]["size"] == payload.size());
    CHECK(collect(r.replies, 0, "data") == payload);
}

TEST_CASE("uploads with different ids may interleave with other requests") {
    std::string input = frames({{{"id", 1}, {"op", "echo"}, {"args", {{"data", {{"chunks", 2}}}}}},
                                {{"id", 2}, {"op", "echo"}, {"args", {{"data", {{"chunks", 1}}}}}},
                                {{"id", 1}, {"chunk", 0}, {"data", "YWFh"}},
                                {{"id", 3}, {"op", "hello"}},
                                {{"id", 2}, {"chunk", 0}, {"data", "YmJi"}},
                                {{"id", 1}, {"chunk", 1}, {"data", "YWE="}}});
    auto r = serve(input);
    REQUIRE(r.replies.size() == 3);
    CHECK(r.replies[0]["id"] == 3);
    CHECK(r.replies[1]["id"] == 2);
    CHECK(r.replies[1]["result"]["data"] == "YmJi");
    CHECK(r.replies[2]["id"] == 1);
    CHECK(r.replies[2]["result"]["data"] == "YWFhYWE=");
}

TEST_CASE("chunk errors: out of order, bad base64, orphan, oversize, refused header") {
    std::string input = frames({
        {{"id", 1}, {"op", "echo"}, {"args", {{"data", {{"chunks", 3}}}}}},
        {{"id", 1}, {"chunk", 1}, {"data", "YWFh"}},  // out of order: error, rest swallowed
        {{"id", 1}, {"chunk", 2}, {"data", "YWFh"}},  // swallowed
        {{"id", 9}, {"chunk", 0}, {"data", "YWFh"}},  // orphan
        {{"id", 2}, {"op", "echo"}, {"args", {{"data", {{"chunks", 2}}}}}},
        {{"id", 2}, {"chunk", 0}, {"data", "@@@@"}},  // bad base64: error, rest swallowed
        {{"id", 2}, {"chunk", 1}, {"data", "YWFh"}},
        {{"id", 3},
         {"op", "echo"},
         {"args", {{"data", {{"chunks", 1}, {"size", limits::kMaxPayload + 1}}}}}},
        {{"id", 3}, {"chunk", 0}, {"data", "YWFh"}},  // swallowed: header was refused
        {{"id", 4}, {"op", "nope"}, {"args", {{"data", {{"chunks", 1}}}}}},
        {{"id", 4}, {"chunk", 0}, {"data", "YWFh"}},  // swallowed
        {{"id", 5}, {"op", "echo"}, {"args", {{"data", {{"chunks", 1}, {"size", 2}}}}}},
        {{"id", 5}, {"chunk", 0}, {"data", "YWFh"}},  // size mismatch
        {{"id", 6}, {"op", "echo"}, {"args", {{"data", {{"chunks", 0}}}}}},
        {{"id", 7}, {"op", "echo"}, {"args", {{"data", {{"chunks", 1}, {"extra", 1}}}}}},
        {{"op", "echo"}, {"args", {{"data", {{"chunks", 1}}}}}},
    });
    auto r = serve(input);
    REQUIRE(r.replies.size() == 9);
    CHECK(r.replies[0]["id"] == 1);
    CHECK(error_code(r.replies[0]) == "ERR_BAD_REQUEST");
    CHECK(r.replies[1]["id"] == 9);
    CHECK(error_code(r.replies[1]) == "ERR_BAD_REQUEST");
    CHECK(r.replies[2]["id"] == 2);
    CHECK(error_code(r.replies[2]) == "ERR_BAD_REQUEST");
    CHECK(r.replies[3]["id"] == 3);
    CHECK(error_code(r.replies[3]) == "ERR_TOO_LARGE");
    CHECK(r.replies[4]["id"] == 4);
    CHECK(error_code(r.replies[4]) == "ERR_UNKNOWN_OP");
    CHECK(r.replies[5]["id"] == 5);
    CHECK(error_code(r.replies[5]) == "ERR_BAD_REQUEST");
    CHECK(error_code(r.replies[6]) == "ERR_BAD_REQUEST");
    CHECK(error_code(r.replies[7]) == "ERR_BAD_REQUEST");
    CHECK(error_code(r.replies[8]) == "ERR_BAD_REQUEST");  // chunked request without id
}

TEST_CASE("a header announcing more than the limit ends the session with ERR_TOO_LARGE") {
    std::string input =
        frames({{{"id", 1}, {"op", "hello"}}}) + std::string("\xff\xff\xff\x7f", 4) + "junk";
    auto r = serve(input);
    REQUIRE(r.replies.size() == 2);
    CHECK(r.replies[0]["ok"] == true);
    CHECK(error_code(r.replies[1]) == "ERR_TOO_LARGE");
    CHECK(r.replies[1]["id"].is_null());
    CHECK(r.exit_code == 0);
}

TEST_CASE("a truncated last frame gets ERR_BAD_FRAME") {
    std::string input = frames({{{"id", 1}, {"op", "hello"}}});
    input += test::frame(std::string(R"({"id":2,"op":"hello"})")).substr(0, 10);
    auto r = serve(input);
    REQUIRE(r.replies.size() == 2);
    CHECK(error_code(r.replies[1]) == "ERR_BAD_FRAME");
}

TEST_CASE("help is served for every operation") {
    for (const auto& name : registry().names()) {
        auto r = serve(frames({{{"id", name}, {"op", name}, {"args", {{"help", true}}}}}));
        REQUIRE(r.replies.size() == 1);
        CHECK(r.replies[0]["ok"] == true);
        CHECK(r.replies[0]["result"]["op"] == name);
        CHECK(r.replies[0]["result"]["summary"].get<std::string>().size() > 10);
    }
}

TEST_CASE("refused chunked requests are remembered within a fixed bound, the newest first") {
    std::size_t replies = 0;
    frame::Reader reader([](char*, std::size_t) -> long { return 0; }, limits::kMaxIncomingFrame);
    frame::Writer writer(
        [&replies](const char*, std::size_t, const char*, std::size_t) {
            ++replies;
            return true;
        },
        limits::kMaxOutgoingFrame);
    Context context(Caller{}, {});
    Session session(registry(), context, reader, writer);
    const std::string padding(200, 'x');
    const auto id_of = [&](std::size_t i) { return padding + std::to_string(i); };
    // Four times the bound: the oldest are forgotten thousands of times over.
    constexpr std::size_t kRefused = 4 * limits::kMaxDiscarding;
    for (std::size_t i = 0; i < kRefused; ++i)
        session.handle_frame(
            json{{"id", id_of(i)}, {"op", "no.such.op"}, {"args", {{"data", {{"chunks", 3}}}}}}
                .dump());
    CHECK(replies == kRefused);
    CHECK(session.discarding_count() <= limits::kMaxDiscarding);
    // The newest refused request's chunks are still swallowed; the oldest's are answered.
    session.handle_frame(json{{"id", id_of(kRefused - 1)}, {"chunk", 0}, {"data", "QUFB"}}.dump());
    CHECK(replies == kRefused);
    session.handle_frame(json{{"id", id_of(0)}, {"chunk", 0}, {"data", "QUFB"}}.dump());
    CHECK(replies == kRefused + 1);
}

TEST_CASE("a chunk stays in the frame buffer only while its own upload waits for more") {
    // Upload 1 stays open throughout. Upload 2 completes; request 4 is refused and its chunk
    // swallowed; upload 5 fails on bad base64. Each frame's bytes are looked at in the buffer
    // they were read into, when the reader asks for the next frame's header.
    const std::string kept = base64::encode(std::string(3000, 'k'));
    const std::string secret = base64::encode(std::string(3000, 's'));
    const std::vector<std::string> bodies = {
        frames({{{"id", 1}, {"op", "echo"}, {"args", {{"data", {{"chunks", 3}}}}}}}).substr(4),
        "{\"id\":1,\"chunk\":0,\"data\":\"" + kept + "\"}",  // more to come: may stay
        frames({{{"id", 2}, {"op", "echo"}, {"args", {{"data", {{"chunks", 2}}}}}}}).substr(4),
        "{\"id\":2,\"chunk\":0,\"data\":\"" + kept + "\"}",    // more to come: may stay
        "{\"id\":2,\"chunk\":1,\"data\":\"" + secret + "\"}",  // the last: wiped
        frames({{{"id", 4}, {"op", "nope"}, {"args", {{"data", {{"chunks", 1}}}}}}}).substr(4),
        "{\"id\":4,\"chunk\":0,\"data\":\"" + secret + "\"}",  // swallowed: wiped
        frames({{{"id", 5}, {"op", "echo"}, {"args", {{"data", {{"chunks", 2}}}}}}}).substr(4),
        "{\"id\":5,\"chunk\":0,\"data\":\"@@@@" + secret + "\"}",  // refused: wiped
        frames({{{"id", 3}, {"op", "hello"}}}).substr(4),
    };
    std::string input;
    for (const auto& body : bodies) input += test::frame(body);
    std::size_t pos = 0;
    const char* last_body = nullptr;  // where the reader put the previous frame's bytes
    std::size_t last_index = 0, frames_read = 0;
    std::vector<bool> still_there(bodies.size(), false);
    const Result r = serve_from([&](char* dst, std::size_t size) -> long {
        if (size == 4 && last_body) {  // the next header: the previous frame is handled
            const std::string& body = bodies[last_index];
            still_there[last_index] = std::memcmp(last_body, body.data(), body.size()) == 0;
            last_body = nullptr;
        } else if (size > 4) {
            last_body = dst;
            last_index = frames_read++;
        }
        const std::size_t n = std::min(size, input.size() - pos);
        std::memcpy(dst, input.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
    });
    CHECK(r.exit_code == 0);
    REQUIRE(frames_read == bodies.size());
    CHECK(still_there[1]);  // upload 1's first chunk, overwritten by the next frame only
    CHECK_FALSE(still_there[4]);
    CHECK_FALSE(still_there[6]);
    CHECK_FALSE(still_there[8]);
    for (const std::size_t request : {0u, 2u, 5u, 7u}) CHECK_FALSE(still_there[request]);
}
