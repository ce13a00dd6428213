// SPDX-License-Identifier: MIT
// Bytes in pieces: buffers owned here (wiped when they go) and views into buffers owned elsewhere.
// A signed message repeats its input's body; returning it as a view saves copying a message of
// tens of megabytes. Whoever returns a view makes sure its buffer outlives this object.
#pragma once

#include "util/base64.h"
#include "util/secure.h"

#include <openssl/crypto.h>

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
    // Bytes that need no wiping: what goes on the wire as it is (an encrypted message).
    void append_public(std::string bytes) {
        if (bytes.empty()) return;
        public_.push_back(std::move(bytes));
        add(public_.back());
    }

    std::size_t size() const noexcept { return size_; }
    const std::vector<std::string_view>& views() const noexcept { return views_; }

    // The bytes [offset, offset + n) (clamped to the end): a view of one piece when they lie in
    // one, else copied into `scratch` (which the caller wipes).
    std::string_view range(std::size_t offset, std::size_t n, std::string& scratch) const {
        scratch.clear();
        std::vector<std::string_view> parts;
        for_each_part(offset, n, [&](std::string_view part) { parts.push_back(part); });
        if (parts.size() == 1) return parts.front();
        std::size_t total = 0;
        for (const auto part : parts) total += part.size();
        scratch.reserve(total);  // one buffer: a reallocation would free plaintext unwiped
        for (const auto part : parts) scratch.append(part);
        return scratch;
    }

    // Appends the base64 of the bytes [offset, offset + n) (clamped to the end) to `out`, piece
    // by piece: the bytes are never gathered into one buffer (a reply chunk that spans pieces
    // would otherwise need a fresh 768,000-byte copy, and fresh memory is slow to touch).
    void append_base64(std::size_t offset, std::size_t n, std::string& out) const;

    SecureString join() const {
        SecureString out;
        out.mutable_str().reserve(size_);
        for (const std::string_view piece : views_) out.mutable_str().append(piece);
        return out;
    }

private:
    // Calls f(part) for each piece's share of the bytes [offset, offset + n), clamped to the end.
    template <typename F>
    void for_each_part(std::size_t offset, std::size_t n, F f) const {
        offset = std::min(offset, size_);
        n = std::min(n, size_ - offset);
        std::size_t start = 0;
        for (const std::string_view piece : views_) {
            if (n == 0) break;
            const std::size_t end = start + piece.size();
            if (offset < end) {
                const std::size_t at = offset - start;
                const std::size_t take = std::min(n, piece.size() - at);
                f(piece.substr(at, take));
                offset += take;
                n -= take;
            }
            start = end;
        }
    }

    void add(std::string_view piece) {
        if (piece.empty()) return;
        views_.push_back(piece);
        size_ += piece.size();
    }

    std::deque<SecureString> owned_;
    std::deque<std::string> public_;
    std::vector<std::string_view> views_;
    std::size_t size_ = 0;
};

}  // namespace smime
