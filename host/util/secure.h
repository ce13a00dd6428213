// SPDX-License-Identifier: MIT
// Buffers for secrets (passphrases, key material, plaintext) that are wiped when they go away.
#pragma once

#include <openssl/crypto.h>

#include <cstring>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smime {

// Wipes `size` bytes at `data` in a way the compiler may not drop: glibc's explicit_bzero (its
// vectorised memset, then a barrier) where the C library has it, else OpenSSL's cleanse. Messages
// of many MiB are wiped several times over on their way through: this is a third faster there.
inline void wipe_bytes(void* data, std::size_t size) noexcept {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
    explicit_bzero(data, size);
#else
    OPENSSL_cleanse(data, size);
#endif
}

// A std::string that is cleansed on destruction and on reassignment by move. Use it for anything a
// memory dump must not reveal. Copies are allowed but each copy is wiped in its own turn.
// Wiping covers the whole capacity, including the small-string buffer inside the object, which a
// move copies rather than hands over. Growing the string through mutable_str() reallocates
// without wiping the old block: reserve() first what a secret will need.
class SecureString {
public:
    SecureString() = default;
    explicit SecureString(std::string value) : value_(std::move(value)) {}
    SecureString(const SecureString&) = default;
    SecureString& operator=(const SecureString& other) {
        if (this != &other) {
            wipe();
            value_ = other.value_;
        }
        return *this;
    }
    SecureString(SecureString&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    SecureString& operator=(SecureString&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~SecureString() { wipe(); }

    const std::string& str() const noexcept { return value_; }
    std::string& mutable_str() noexcept { return value_; }
    const char* data() const noexcept { return value_.data(); }
    std::size_t size() const noexcept { return value_.size(); }
    bool empty() const noexcept { return value_.empty(); }
    // Whether `part` lies within this buffer's bytes.
    bool holds(std::string_view part) const noexcept {
        return part.data() >= value_.data() &&
               part.data() + part.size() <= value_.data() + value_.size();
    }

    void wipe() noexcept {
        wipe_bytes(value_.data(), value_.capacity());
        value_.clear();
    }
    // Keeps the pages that hold the current capacity out of swap (mlock), where the platform
    // allows; for key material. Best effort: the pages stay locked for the life of the process
    // (other data may share them, so they are never unlocked), and RLIMIT_MEMLOCK may refuse.
    void lock_pages() noexcept;
    // Wipes, and gives the memory back (wipe() keeps the capacity for reuse).
    void wipe_and_free() noexcept {
        wipe();
        std::string().swap(value_);
    }
    // The same when the bytes of `wiped` (a range of this buffer, or empty) were wiped already,
    // their pages given back (wipe_and_release): only the rest is wiped, so those pages are not
    // brought back just to be wiped again.
    void wipe_rest_and_free(std::string_view wiped) noexcept {
        const std::size_t capacity = value_.capacity();
        const bool ours = !wiped.empty() && holds(wiped);  // not ours: wipe it all
        const std::size_t from =
            ours ? static_cast<std::size_t>(wiped.data() - value_.data()) : capacity;
        const std::size_t to = ours ? from + wiped.size() : capacity;
        wipe_bytes(value_.data(), from);
        wipe_bytes(value_.data() + to, capacity - to);
        std::string().swap(value_);
    }

private:
    std::string value_;
};

// Sets up OpenSSL's secure heap (1 MiB, locked against swap, left out of core dumps, between
// guard pages), which then holds the private numbers of every key decoded or made afterwards (RSA
// d, p, q and CRT values; EC private scalars). Call it before decoding or making a private key
// (an ephemeral one too, as key agreement with an EC recipient makes); it acts once per process and
// warns in the log when the heap cannot be had or locked. Not done at start-up: locking the heap
// costs a fresh process most of a millisecond, and a process that only verifies, or encrypts to
// RSA recipients, never needs it.
void use_secure_heap() noexcept;

// Wipes a plain buffer in place; for std::string or std::vector holding a secret briefly.
template <typename Buffer>
void cleanse(Buffer& buffer) noexcept {
    if (!buffer.empty()) wipe_bytes(buffer.data(), buffer.size());
}
// A string is wiped to its capacity: what a longer value left behind a shorter one counts too.
inline void cleanse(std::string& buffer) noexcept { wipe_bytes(buffer.data(), buffer.capacity()); }

// Wipes [begin, end) and gives the whole pages inside it back to the system, which reads them as
// zeros afterwards: for a large buffer consumed front to back whose owner still frees it later
// (its own wipe then touches zero pages). Only the memory the pages take is returned, where the
// platform can; the wiping is done everywhere.
void wipe_and_release(char* begin, char* end) noexcept;

}  // namespace smime
