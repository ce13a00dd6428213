// SPDX-License-Identifier: MIT
// Native messaging framing: a 4-byte length in native byte order, then that many bytes of JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace smime::frame {

enum class ReadStatus {
    Frame,      // `body` holds one whole frame
    Eof,        // clean end of stream between frames
    Truncated,  // stream ended inside a header or body
    TooLarge,   // header announced more than the limit; the stream cannot be resynchronised
    IoError,
};

// Reads frames from a byte source. The source is a function so tests and fuzzers can feed memory.
class Reader {
public:
    using Source = std::function<long(char*, std::size_t)>;  // like read(2): >0, 0 = EOF, <0 error
    Reader(Source source, std::size_t max_frame)
        : source_(std::move(source)), max_frame_(max_frame) {}

    // Throws std::bad_alloc if the body cannot be allocated, after reading past it: the stream
    // stays in step and the caller may answer and go on.
    ReadStatus next(std::string& body);
    std::uint32_t last_announced_length() const noexcept { return announced_; }

private:
    // Reads exactly `size` bytes unless the source ends: returns bytes read.
    std::size_t read_fully(char* dst, std::size_t size, bool& io_error);

    Source source_;
    std::size_t max_frame_;
    std::uint32_t announced_ = 0;
};

// Writes one frame; the sink gets header and body as two pieces of one logical write.
class Writer {
public:
    using Sink = std::function<bool(const char*, std::size_t, const char*, std::size_t)>;
    Writer(Sink sink, std::size_t max_frame) : sink_(std::move(sink)), max_frame_(max_frame) {}

    // False if the frame is over the limit (nothing written) or the sink failed.
    bool write(std::string_view body);
    std::size_t max_frame() const noexcept { return max_frame_; }
    bool failed() const noexcept { return failed_; }

private:
    Sink sink_;
    std::size_t max_frame_;
    bool failed_ = false;
};

// Encodes the 4-byte native-order header (exposed for tests and clients).
std::string encode_header(std::uint32_t length);
std::string encode(std::string_view body);

}  // namespace smime::frame
