// SPDX-License-Identifier: MIT
// Duplicate member names are found while parsing, with one set of names per open object.
#include "util/strict_json.h"

#include <set>
#include <vector>

namespace smime::strict_json {

nlohmann::json parse(std::string_view text) {
    using json = nlohmann::json;
    std::vector<std::set<std::string, std::less<>>> open;
    const json::parser_callback_t check = [&open](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start: open.emplace_back(); break;
            case json::parse_event_t::object_end:
                if (!open.empty()) open.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second)
                    throw DuplicateKey(parsed.get<std::string>());
                break;
            default: break;
        }
        return true;
    };
    return json::parse(text.begin(), text.end(), check);
}

}  // namespace smime::strict_json
