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
enum class FromProblem { NoFrom, MultipleFromFields, MultipleMailboxes, Unparseable, NotInCertificate };
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
};

struct LayerStatus {
    enum class Kind { Signed, Enveloped, AuthEnveloped, CertsOnly };
    Kind kind = Kind::Signed;
    bool detached = false;           // multipart/signed
    bool decrypted = false;          // for encrypted layers: opened with one of the user's keys
    std::string content_encryption;  // "aes-256-cbc", once decrypted
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
};

// Sets `verdict` and sorts `reasons` (worst first, no duplicates).
void settle(SignatureStatus& signature);

// Level from the layers present.
Level level_of(const std::vector<LayerStatus>& layers);

nlohmann::json to_json(const Status& status);

}  // namespace smime::engine
