// SPDX-License-Identifier: MIT
// Frame reader and writer; the length is checked against the limit before anything is allocated.
#include "protocol/frame.h"

#include "util/secure.h"
#include "util/uninitialized.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace smime::frame {

std::size_t Reader::read_fully(char* dst, std::size_t size, bool& io_error) {
    std::size_t got = 0;
    while (got < size) {
        const long n = source_(dst + got, size - got);
        if (n == 0) break;
        if (n < 0) {
            io_error = true;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    return got;
}

ReadStatus Reader::next(std::string& body) {
    char header[4];
    bool io_error = false;
    const std::size_t got = read_fully(header, sizeof header, io_error);
    if (io_error) return ReadStatus::IoError;
    if (got == 0) return ReadStatus::Eof;
    if (got < sizeof header) return ReadStatus::Truncated;
    std::memcpy(&announced_, header, sizeof announced_);  // native byte order, as browsers send
    if (announced_ > max_frame_) return ReadStatus::TooLarge;
    // The previous frame may still be in `body` (a caller may leave it there): what of it the new
    // one will not overwrite is wiped now, all of it when the buffer has to grow (the old block
    // goes).
    if (announced_ > body.capacity()) cleanse(body);
    else if (announced_ < body.size())
        wipe_bytes(body.data() + announced_, body.size() - announced_);
    std::size_t body_got = 0;
    try {
        body.clear();
        // A source that throws ends the process here rather than leave `body` undefined.
        append_uninitialized(body, announced_, [&](char* at) noexcept {
            body_got = read_fully(at, announced_, io_error);
            return body_got;
        });
    } catch (const std::bad_alloc&) {
        char skip[4096];
        struct Wipe {
            char* bytes;
            ~Wipe() { wipe_bytes(bytes, sizeof skip); }  // it may have held a password
        } const wipe{skip};
        std::size_t left = announced_;
        while (left > 0) {
            const std::size_t want = std::min(left, sizeof skip);
            const std::size_t n = read_fully(skip, want, io_error);
            if (io_error) return ReadStatus::IoError;
            if (n < want) return ReadStatus::Truncated;
            left -= n;
        }
        throw;
    }
    if (io_error) return ReadStatus::IoError;
    if (body_got < announced_) return ReadStatus::Truncated;
    return ReadStatus::Frame;
}

bool Writer::write(std::string_view body) {
    if (body.size() > max_frame_ || failed_) return false;
    const std::string header = encode_header(static_cast<std::uint32_t>(body.size()));
    if (!sink_(header.data(), header.size(), body.data(), body.size())) failed_ = true;
    return !failed_;
}

std::string encode_header(std::uint32_t length) {
    std::string header(4, '\0');
    std::memcpy(header.data(), &length, sizeof length);
    return header;
}

std::string encode(std::string_view body) {
    std::string out = encode_header(static_cast<std::uint32_t>(body.size()));
    out.append(body);
    return out;
}

}  // namespace smime::frame
