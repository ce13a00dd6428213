// SPDX-License-Identifier: MIT
// Unit tests for frame reading and writing, including short reads and the size limits.
#include "protocol/frame.h"
#include "support/frames.h"

#include <doctest/doctest.h>

using namespace smime;

namespace {
// A source that hands out at most `step` bytes per read, like a pipe under load.
frame::Reader::Source memory_source(std::string data, std::size_t step) {
    auto state = std::make_shared<std::pair<std::string, std::size_t>>(std::move(data), 0);
    return [state, step](char* dst, std::size_t size) -> long {
        auto& [buf, pos] = *state;
        const std::size_t n = std::min({size, step, buf.size() - pos});
        std::memcpy(dst, buf.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
    };
}
}  // namespace

TEST_CASE("frames are read whole even when the pipe delivers one byte at a time") {
    const std::string stream =
        test::frame(std::string("{\"a\":1}")) + test::frame(std::string("{\"b\":\"é\"}"));
    frame::Reader reader(memory_source(stream, 1), 1024);
    std::string body;
    REQUIRE(reader.next(body) == frame::ReadStatus::Frame);
    CHECK(body == "{\"a\":1}");
    REQUIRE(reader.next(body) == frame::ReadStatus::Frame);
    CHECK(body == "{\"b\":\"é\"}");  // byte length, not characters
    CHECK(reader.next(body) == frame::ReadStatus::Eof);
}

TEST_CASE("a stream ending inside a header or body is truncated, not a frame") {
    std::string body;
    frame::Reader in_header(memory_source(std::string("\x05\x00", 2), 4), 1024);
    CHECK(in_header.next(body) == frame::ReadStatus::Truncated);
    frame::Reader in_body(memory_source(test::frame(std::string("hello")).substr(0, 7), 4), 1024);
    CHECK(in_body.next(body) == frame::ReadStatus::Truncated);
}

TEST_CASE("an announced length over the limit is refused before allocating") {
    std::string header(4, '\xff');
    frame::Reader reader(memory_source(header, 4), 1024);
    std::string body;
    CHECK(reader.next(body) == frame::ReadStatus::TooLarge);
    CHECK(reader.last_announced_length() == 0xffffffffu);
    CHECK(body.empty());
}

TEST_CASE("zero-length frames are frames") {
    frame::Reader reader(memory_source(test::frame(std::string()), 4), 1024);
    std::string body = "x";
    CHECK(reader.next(body) == frame::ReadStatus::Frame);
    CHECK(body.empty());
}

TEST_CASE("the writer refuses frames over its limit and reports sink failure") {
    std::string sink;
    frame::Writer writer(
        [&](const char* a, std::size_t an, const char* b, std::size_t bn) {
            sink.append(a, an).append(b, bn);
            return true;
        },
        8);
    CHECK(writer.write("12345678"));
    CHECK_FALSE(writer.write("123456789"));
    CHECK(test::split_frames(sink) == std::vector<std::string>{"12345678"});

    frame::Writer broken([](const char*, std::size_t, const char*, std::size_t) { return false; },
                         8);
    CHECK_FALSE(broken.write("x"));
    CHECK(broken.failed());
}
