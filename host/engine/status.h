// SPDX-License-Identifier: MIT
// The verification status of a message: its protection level, its layers and, per signature, a
// verdict with every reason that applies (docs/protocol.md, "Verification status").
#pragma once

#include "pki/cert_info.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

// Worst first: `verdict` is the first of these that applies (docs/protocol.md gives the order).
enum class Verdict {
    BadSignature,
    Revoked,
    WeakAlgorithm,
    Untrusted,
    Expired,
    NotYetValid,
    BadKeyUsage,
    AddressMismatch,
    Good,
};
std::string_view verdict_name(Verdict verdict);

enum class Level { None, Signed, Encrypted, SignedEncrypted };
std::string_view level_name(Level level);

// The signer against the message's From (RFC 8551 section 3.1): any problem is address_mismatch.
enum class FromProblem {
    NoFrom,
    MultipleFromFields,
    MultipleMailboxes,
    Unparseable,
    NotInCertificate
};
std::string_view from_problem_name(FromProblem problem);

struct FromCheck {
    std::optional<std::string> address;  // the one From address, when there is one
    std::optional<FromProblem> problem;
};

struct SignatureStatus {
    Verdict verdict = Verdict::Good;
    std::vector<Verdict> reasons;  // every problem, worst first; empty when good
    std::optional<pki::CertInfo> signer;
    std::string digest_algorithm;  // "sha256"
    std::optional<std::time_t> signing_time;
    std::optional<bool> valid_at_signing_time;  // path validation repeated at signing time
    std::size_t layer = 0;                      // index into Status::layers
    FromCheck from_check;                       // against the From the opened message shows
    // What this signature teaches the key store, held by the verification until the From check
    // is done (an index into its pending harvests); empty once handed over.
    std::optional<std::size_t> pending_harvest;
};

struct LayerStatus {
    enum class Kind { Signed, Enveloped, AuthEnveloped, CertsOnly };
    Kind kind = Kind::Signed;
    bool detached = false;           // multipart/signed
    bool decrypted = false;          // for encrypted layers: opened with one of the user's keys
    std::string content_encryption;  // "aes-256-cbc", once decrypted
    // For encrypted layers: the content is integrity-protected by the encryption itself (AEAD:
    // AuthEnvelopedData, RFC 5083). EnvelopedData (CBC) is malleable: ciphertext bits flip
    // plaintext bits, so only a signature can vouch for such content.
    bool authenticated = false;
};

// Something the user should know about the message as a whole (not about one signature).
struct StatusWarning {
    std::string code;  // stable: "unauthenticated_encryption"
    std::string message;
};

// RFC 9788: whether the protected content carried header fields of its own, and which outer
// fields (lowercase names) differ from them.
struct HeaderProtection {
    bool is_protected = false;
    std::vector<std::string> differing_fields;
};

struct Status {
    Level level = Level::None;
    std::vector<LayerStatus> layers;  // outermost first
    std::vector<SignatureStatus> signatures;
    HeaderProtection header_protection;
    std::vector<StatusWarning> warnings;
};

// Sets `verdict` and sorts `reasons` (worst first, no duplicates).
void settle(SignatureStatus& signature);

// Level from the layers present.
Level level_of(const std::vector<LayerStatus>& layers);

// Adds `unauthenticated_encryption` when a decrypted layer without AEAD is not covered by a good
// signature. The layers form one chain, so any signature covers that content: one inside signs
// the plaintext, one outside signs the ciphertext; either way a changed bit breaks it.
void warn_unauthenticated(Status& status);

nlohmann::json to_json(const Status& status);

}  // namespace smime::engine
