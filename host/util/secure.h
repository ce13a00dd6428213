// SPDX-License-Identifier: MIT
// Buffers for secrets (passphrases, key material, plaintext) that are wiped when they go away.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <utility>
#include <vector>

namespace smime {

// A std::string that is cleansed on destruction and on reassignment by move. Use it for anything a
// memory dump must not reveal. Copies are allowed but each copy is wiped in its own turn.
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

    void wipe() noexcept {
        if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
        value_.clear();
    }
    // Wipes, and gives the memory back (wipe() keeps the capacity for reuse).
    void wipe_and_free() noexcept {
        wipe();
        std::string().swap(value_);
    }

private:
    std::string value_;
};

// Wipes a plain buffer in place; for std::string or std::vector holding a secret briefly.
template <typename Buffer>
void cleanse(Buffer& buffer) noexcept {
    if (!buffer.empty()) OPENSSL_cleanse(buffer.data(), buffer.size());
}

}  // namespace smime
