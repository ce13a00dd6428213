// SPDX-License-Identifier: MIT
// Verdict ordering and the JSON form of a verification status.
#include "engine/status.h"

#include <algorithm>

namespace smime::engine {

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::BadSignature: return "bad_signature";
        case Verdict::Revoked: return "revoked";
        case Verdict::WeakAlgorithm: return "weak_algorithm";
        case Verdict::Untrusted: return "untrusted";
        case Verdict::Expired: return "expired";
        case Verdict::NotYetValid: return "not_yet_valid";
        case Verdict::BadKeyUsage: return "bad_key_usage";
        case Verdict::AddressMismatch: return "address_mismatch";
        case Verdict::Good: return "good";
    }
    return "bad_signature";
}

std::string_view from_problem_name(FromProblem problem) {
    switch (problem) {
        case FromProblem::NoFrom: return "no_from";
        case FromProblem::MultipleFromFields: return "multiple_from_fields";
        case FromProblem::MultipleMailboxes: return "multiple_mailboxes";
        case FromProblem::Unparseable: return "unparseable";
        case FromProblem::NotInCertificate: return "not_in_certificate";
    }
    return "unparseable";
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::None: return "none";
        case Level::Signed: return "signed";
        case Level::Encrypted: return "encrypted";
        case Level::SignedEncrypted: return "signed+encrypted";
    }
    return "none";
}

void settle(SignatureStatus& signature) {
    auto& r = signature.reasons;
    r.erase(std::remove(r.begin(), r.end(), Verdict::Good), r.end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    signature.verdict = r.empty() ? Verdict::Good : r.front();
}

Level level_of(const std::vector<LayerStatus>& layers) {
    bool is_signed = false, is_encrypted = false;
    for (const LayerStatus& layer : layers) {
        if (layer.kind == LayerStatus::Kind::Signed) is_signed = true;
        if (layer.kind == LayerStatus::Kind::Enveloped ||
            layer.kind == LayerStatus::Kind::AuthEnveloped) {
            is_encrypted = true;
        }
    }
    if (is_signed && is_encrypted) return Level::SignedEncrypted;
    if (is_signed) return Level::Signed;
    if (is_encrypted) return Level::Encrypted;
    return Level::None;
}

void warn_unauthenticated(Status& status) {
    const bool exposed =
        std::any_of(status.layers.begin(), status.layers.end(), [](const LayerStatus& layer) {
            return layer.kind == LayerStatus::Kind::Enveloped && layer.decrypted &&
                   !layer.authenticated;
        });
    const bool vouched =
        std::any_of(status.signatures.begin(), status.signatures.end(),
                    [](const SignatureStatus& s) { return s.verdict == Verdict::Good; });
    if (exposed && !vouched) {
        status.warnings.push_back(
            {"unauthenticated_encryption",
             "the encryption does not protect the content against changes and no good "
             "signature covers it: it may have been altered on the way"});
    }
}

namespace {

nlohmann::json optional_time(const std::optional<std::time_t>& t) {
    return t ? nlohmann::json(pki::format_time(*t)) : nlohmann::json(nullptr);
}

const char* kind_name(LayerStatus::Kind kind) {
    switch (kind) {
        case LayerStatus::Kind::Signed: return "signed";
        case LayerStatus::Kind::Enveloped: return "enveloped";
        case LayerStatus::Kind::AuthEnveloped: return "auth_enveloped";
        case LayerStatus::Kind::CertsOnly: return "certs_only";
    }
    return "signed";
}

}  // namespace

nlohmann::json to_json(const Status& status) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerStatus& layer : status.layers) {
        nlohmann::json j = {{"type", kind_name(layer.kind)}};
        if (layer.kind == LayerStatus::Kind::Signed) j["detached"] = layer.detached;
        if (layer.kind == LayerStatus::Kind::Enveloped ||
            layer.kind == LayerStatus::Kind::AuthEnveloped) {
            j["decrypted"] = layer.decrypted;
            j["authenticated"] = layer.authenticated;
            if (!layer.content_encryption.empty())
                j["content_encryption"] = layer.content_encryption;
        }
        layers.push_back(std::move(j));
    }
    nlohmann::json signatures = nlohmann::json::array();
    for (const SignatureStatus& s : status.signatures) {
        nlohmann::json reasons = nlohmann::json::array();
        for (const Verdict v : s.reasons) reasons.push_back(verdict_name(v));
        // The one certificate description (pki/cert_info.h), as every other reply has it.
        const nlohmann::json signer = s.signer ? pki::to_json(*s.signer) : nlohmann::json(nullptr);
        signatures.push_back({{"layer", s.layer},
                              {"verdict", verdict_name(s.verdict)},
                              {"reasons", std::move(reasons)},
                              {"signer", signer},
                              {"digest_algorithm", s.digest_algorithm},
                              {"signing_time", optional_time(s.signing_time)},
                              {"valid_at_signing_time",
                               s.valid_at_signing_time ? nlohmann::json(*s.valid_at_signing_time)
                                                       : nlohmann::json(nullptr)}});
        signatures.back()["from_check"] = {
            {"address", s.from_check.address ? nlohmann::json(*s.from_check.address)
                                             : nlohmann::json(nullptr)},
            {"problem", s.from_check.problem
                            ? nlohmann::json(from_problem_name(*s.from_check.problem))
                            : nlohmann::json(nullptr)}};
    }
    nlohmann::json warnings = nlohmann::json::array();
    for (const StatusWarning& w : status.warnings)
        warnings.push_back({{"code", w.code}, {"message", w.message}});
    return {{"level", level_name(status.level)},
            {"layers", std::move(layers)},
            {"signatures", std::move(signatures)},
            {"warnings", std::move(warnings)},
            {"header_protection",
             {{"protected", status.header_protection.is_protected},
              {"differing_fields", status.header_protection.differing_fields}}}};
}

}  // namespace smime::engine
