// SPDX-License-Identifier: MIT
// JSON parsing that refuses duplicate member names (RFC 8259 section 4 leaves their meaning open).
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace smime::strict_json {

// A member name appeared twice in one object. `name()` is the name, for messages about files
// the administrator wrote; never put it in a log line about a request.
class DuplicateKey : public std::runtime_error {
public:
    explicit DuplicateKey(std::string name)
        : std::runtime_error("duplicate member name"), name_(std::move(name)) {}
    const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
};

// Like nlohmann::json::parse (throws its parse_error and out_of_range), and DuplicateKey.
nlohmann::json parse(std::string_view text);

}  // namespace smime::strict_json
