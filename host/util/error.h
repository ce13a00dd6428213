// SPDX-License-Identifier: MIT
// The one error type of the host: a stable code the extensions match on, a message for people.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace smime {

// Codes are part of the protocol contract (docs/protocol.md): never rename one, only add.
enum class Code {
    BadJson,         // frame is not valid UTF-8 JSON
    BadRequest,      // envelope or arguments malformed, wrong type, unknown field
    UnknownOp,       // no such operation
    TooLarge,        // frame or payload over the limits
    BadFrame,        // truncated frame, stream cannot continue
    Internal,        // a bug or resource failure in the host
    NotFound,        // no such identity, certificate, ...
    BadPassword,     // PKCS#12 password wrong
    BadPassphrase,   // key store passphrase wrong
    Locked,          // private key needed but the key store is locked
    BadPkcs12,       // PKCS#12 unreadable, or key and certificate do not match
    BadCertificate,  // certificate unreadable
    NoCertificate,   // a recipient has no usable certificate
    NoIdentity,      // no usable identity (own key) for the address
    BadMessage,      // MIME or CMS malformed
    DecryptFailed,   // no key can decrypt, or decryption failed (uniform, no oracle)
    Policy,          // forbidden by the organisation's policy
    Storage,         // key store unavailable or corrupt
    Io,              // file could not be read or written (CLI)
    Throttled,       // too many wrong passphrases: wait details.retry_after_ms
};

std::string_view code_name(Code code);

class Error : public std::runtime_error {
public:
    Error(Code code, std::string message, nlohmann::json details = nlohmann::json::object())
        : std::runtime_error(std::move(message)), code_(code), details_(std::move(details)) {}

    Code code() const noexcept { return code_; }
    const nlohmann::json& details() const noexcept { return details_; }

private:
    Code code_;
    nlohmann::json details_;
};

}  // namespace smime
