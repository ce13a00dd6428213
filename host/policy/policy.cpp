// SPDX-License-Identifier: MIT
// Reading and applying the policy file. Every key is checked for its type; an unknown key is an
// error (a typo must not silently weaken a rule).
#include "policy/policy.h"

#include "platform/platform.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strict_json.h"
#include "util/text.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>

namespace smime {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kDigests = {"sha256", "sha384", "sha512", "sha1"};
const std::vector<std::string> kCiphers = {"aes256-gcm", "aes128-gcm", "aes256-cbc", "aes192-cbc",
                                           "aes128-cbc"};

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::vector<std::string> string_list(const json& value, const std::string& key,
                                     const std::vector<std::string>* allowed) {
    if (!value.is_array()) throw std::runtime_error("'" + key + "' must be an array of strings");
    std::vector<std::string> out;
    for (const auto& item : value) {
        if (!item.is_string())
            throw std::runtime_error("'" + key + "' must be an array of strings");
        const std::string s = text::ascii_lower(item.get<std::string>());
        if (allowed && !contains(*allowed, s))
            throw std::runtime_error("'" + key + "' has an unknown value '" + s + "'");
        out.push_back(s);
    }
    return out;
}

// The whole value must be an integer in range: a number that only truncates into it (4294968320
// to 1024) or has a fraction is refused.
int integer(const json& value, const std::string& key, std::int64_t lo, std::int64_t hi) {
    const std::string rule =
        "'" + key + "' must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (value.is_number_unsigned()) {
        if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
            throw std::runtime_error(rule);
    } else if (value.is_number_integer()) {
        if (value.get<std::int64_t>() < lo || value.get<std::int64_t>() > hi)
            throw std::runtime_error(rule);
    } else {
        throw std::runtime_error(rule);
    }
    const auto v = value.get<std::int64_t>();
    if (v < lo) throw std::runtime_error(rule);
    return static_cast<int>(v);
}

bool boolean(const json& value, const std::string& key) {
    if (!value.is_boolean()) throw std::runtime_error("'" + key + "' must be true or false");
    return value.get<bool>();
}

}  // namespace

std::filesystem::path Policy::system_location() {
#ifdef _WIN32
    return std::filesystem::path(
        "policy.json");  // beside the binary; the registry is read by the installer
#elif defined(__APPLE__)
    return "/Library/Application Support/smime-host/policy.json";
#else
    return "/etc/smime-host/policy.json";
#endif
}

std::filesystem::path Policy::choose_location(const std::filesystem::path& system,
                                              const std::optional<std::string>& named) {
    // Anything that can set the user's environment must not switch the administrator's policy
    // off: the variable counts only where the system has no policy. Whatever is at the system
    // path (even an unreadable file or a dangling link) is the system's policy.
    std::error_code ec;
    const auto state = std::filesystem::symlink_status(system, ec);
    const bool absent = state.type() == std::filesystem::file_type::not_found &&
                        (!ec || ec == std::errc::no_such_file_or_directory);
    if (absent && named) return *named;
    return system;
}

std::filesystem::path Policy::default_location() {
    return choose_location(system_location(), platform::env("SMIME_HOST_POLICY"));
}

Policy Policy::load(const std::filesystem::path& file) {
    Policy p;
    std::error_code ec;
    // Only "does not exist" means no policy. Anything else that stands in the way of reading it
    // (permissions, a dangling link, a loop of links, a folder) is a malformed policy: fail closed.
    const auto link = std::filesystem::symlink_status(file, ec);
    if (link.type() == std::filesystem::file_type::not_found &&
        (!ec || ec == std::errc::no_such_file_or_directory))
        return p;
    p.in_force = true;
    p.source = file;
    try {
        if (ec) throw std::runtime_error("the file cannot be examined: " + ec.message());
        const auto target = std::filesystem::status(file, ec);
        if (ec || target.type() == std::filesystem::file_type::not_found)
            throw std::runtime_error("the file cannot be reached: " +
                                     (ec ? ec.message() : std::string("dangling link")));
        if (target.type() != std::filesystem::file_type::regular)
            throw std::runtime_error("it is not a regular file");
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("the file cannot be read");
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        if (in.bad()) throw std::runtime_error("the file cannot be read");
        json doc;
        try {
            doc = strict_json::parse(text);
        } catch (const json::parse_error& e) {
            throw std::runtime_error("not valid JSON (at byte " + std::to_string(e.byte) + ")");
        } catch (const json::out_of_range&) {
            throw std::runtime_error("not valid JSON (a number out of range)");
        } catch (const strict_json::DuplicateKey& e) {
            throw std::runtime_error("the key '" + e.name() +
                                     "' appears more than once in an object");
        }
        if (!doc.is_object()) throw std::runtime_error("the policy must be a JSON object");
        for (const auto& [key, value] : doc.items()) {
            if (key == "version") {
                if (integer(value, key, 1, 1) != 1) throw std::runtime_error("'version' must be 1");
            } else if (key == "enabled") {
                p.enabled = boolean(value, key);
            } else if (key == "allowed_domains") {
                p.allowed_domains = string_list(value, key, nullptr);
            } else if (key == "require_signing") {
                p.require_signing = boolean(value, key);
            } else if (key == "require_encryption_when_possible") {
                p.require_encryption_when_possible = boolean(value, key);
            } else if (key == "trust_anchors") {
                if (!value.is_array())
                    throw std::runtime_error("'trust_anchors' must be an array of PEM strings");
                for (const auto& item : value) {
                    if (!item.is_string() ||
                        item.get<std::string>().find("-----BEGIN CERTIFICATE-----") ==
                            std::string::npos)
                        throw std::runtime_error(
                            "'trust_anchors' must be an array of PEM certificates");
                    p.trust_anchors.push_back(item.get<std::string>());
                }
            } else if (key == "allow_user_trust_anchors") {
                p.allow_user_trust_anchors = boolean(value, key);
            } else if (key == "use_system_trust_anchors") {
                p.use_system_trust_anchors = boolean(value, key);
            } else if (key == "min_rsa_bits") {
                p.min_rsa_bits = integer(value, key, 1024, 16384);
            } else if (key == "allowed_digests") {
                p.allowed_digests = string_list(value, key, &kDigests);
                if (p.allowed_digests.empty())
                    throw std::runtime_error("'allowed_digests' must not be empty");
            } else if (key == "allowed_content_encryption") {
                p.allowed_content_encryption = string_list(value, key, &kCiphers);
                if (p.allowed_content_encryption.empty())
                    throw std::runtime_error("'allowed_content_encryption' must not be empty");
            } else if (key == "allow_sha1_verification") {
                p.allow_sha1_verification = boolean(value, key);
            } else if (key == "allow_key_backup") {
                p.allow_key_backup = boolean(value, key);
            } else {
                throw std::runtime_error("unknown key '" + key + "'");
            }
        }
    } catch (const std::exception& e) {
        p.error = e.what();
        log::error("policy " + file.string() + ": " + e.what() +
                   "; private-key operations are refused");
    }
    return p;
}

void Policy::require_private_key_operations() const {
    if (error)
        throw Error(
            Code::Policy,
            "the organisation's policy file " + source.string() + " is malformed: " + *error,
            {{"file", source.string()}, {"problem", *error}});
    if (!enabled)
        throw Error(Code::Policy, "S/MIME is turned off on this computer by your organisation",
                    {{"key", "enabled"}});
}

void Policy::check_identity_addresses(const std::vector<std::string>& emails) const {
    if (allowed_domains.empty()) return;
    std::vector<std::string> refused;
    for (const auto& email : emails) {
        const auto at = email.rfind('@');
        const std::string domain = at == std::string::npos ? "" : email.substr(at + 1);
        if (!contains(allowed_domains, domain)) refused.push_back(email);
    }
    if (emails.empty() || !refused.empty())
        throw Error(Code::Policy,
                    "your organisation allows identities only for " + json(allowed_domains).dump(),
                    {{"key", "allowed_domains"},
                     {"addresses", refused},
                     {"allowed_domains", allowed_domains}});
}

void Policy::check_identity_key(const std::string& key_type, int key_bits) const {
    // Without a policy file small keys only warn (weak_key); an organisation may refuse them.
    if (in_force && key_type == "RSA" && key_bits < min_rsa_bits)
        throw Error(Code::Policy,
                    "your organisation requires RSA keys of at least " +
                        std::to_string(min_rsa_bits) + " bits",
                    {{"key", "min_rsa_bits"}, {"bits", key_bits}});
}

bool Policy::digest_allowed(const std::string& digest) const {
    if (digest == "sha1" && allow_sha1_verification) return true;
    return contains(allowed_digests, digest);
}

bool Policy::content_encryption_allowed(const std::string& algorithm) const {
    return contains(allowed_content_encryption, algorithm);
}

nlohmann::json Policy::describe() const {
    json out = {{"in_force", in_force}};
    if (!in_force) return out;
    out["source"] = source.string();
    if (error) {
        out["error"] = *error;
        return out;
    }
    out["effective"] = {{"enabled", enabled},
                        {"allowed_domains", allowed_domains},
                        {"require_signing", require_signing},
                        {"require_encryption_when_possible", require_encryption_when_possible},
                        {"trust_anchors", trust_anchors.size()},
                        {"allow_user_trust_anchors", allow_user_trust_anchors},
                        {"use_system_trust_anchors", use_system_trust_anchors},
                        {"min_rsa_bits", min_rsa_bits},
                        {"allowed_digests", allowed_digests},
                        {"allowed_content_encryption", allowed_content_encryption},
                        {"allow_sha1_verification", allow_sha1_verification},
                        {"allow_key_backup", allow_key_backup}};
    return out;
}

}  // namespace smime
