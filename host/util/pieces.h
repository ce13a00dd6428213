// SPDX-License-Identifier: MIT
// Bytes in pieces: buffers owned here (wiped when they go) and views into buffers owned elsewhere.
// A signed message repeats its input's body; returning it as a view saves copying a message of
// tens of megabytes. Whoever returns a view makes sure its buffer outlives this object.
#pragma once

#include "util/secure.h"

#include <algorithm>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace smime {

class Pieces {
public:
    Pieces() = default;
    Pieces(SecureString whole) { append(std::move(whole)); }  // NOLINT: implicit, one owned piece
    // Views may point into owned_: a copy would point into the original, so moves only.
    Pieces(const Pieces&) = delete;
    Pieces& operator=(const Pieces&) = delete;
    Pieces(Pieces&&) noexcept = default;
    Pieces& operator=(Pieces&&) noexcept = default;

    void append(SecureString owned) {
        if (owned.empty()) return;
        owned_.push_back(
            std::move(owned));  // a deque never moves its elements: earlier views stay valid
        add(owned_.back().str());
    }
    void append_view(std::string_view borrowed) { add(borrowed); }

    std::size_t size() const noexcept { return size_; }
    const std::vector<std::string_view>& views() const noexcept { return views_; }

    // The bytes [offset, offset + n) (clamped to the end): a view of one piece when they lie in
    // one, else copied into `scratch` (which the caller wipes).
    std::string_view range(std::size_t offset, std::size_t n, std::string& scratch) const {
        scratch.clear();
        offset = std::min(offset, size_);
        n = std::min(n, size_ - offset);
        std::size_t start = 0;
        for (const std::string_view piece : views_) {
            if (n == 0) break;
            const std::size_t end = start + piece.size();
            if (offset < end) {
                const std::size_t at = offset - start;
                const std::size_t take = std::min(n, piece.size() - at);
                if (scratch.empty()) {
                    if (take == n) return piece.substr(at, take);
                    scratch.reserve(n);  // one buffer: a reallocation would free plaintext unwiped
                }
                scratch.append(piece.substr(at, take));
                offset += take;
                n -= take;
            }
            start = end;
        }
        return scratch;
    }

    SecureString join() const {
        SecureString out;
        out.mutable_str().reserve(size_);
        for (const std::string_view piece : views_) out.mutable_str().append(piece);
        return out;
    }

private:
    void add(std::string_view piece) {
        if (piece.empty()) return;
        views_.push_back(piece);
        size_ += piece.size();
    }

    std::deque<SecureString> owned_;
    std::vector<std::string_view> views_;
    std::size_t size_ = 0;
};

}  // namespace smime
