// SPDX-License-Identifier: MIT
// A small tokenizer for address lists: quotes, comments, angle brackets and groups.
#include "mime/addresses.h"

#include <algorithm>
#include <cctype>

namespace smime::mime {
namespace {

std::string trim_lower(std::string s) {
    const auto not_space = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

std::vector<std::string> address_list(std::string_view value) {
    std::vector<std::string> out;
    std::string bare, angle;
    bool in_angle = false, had_angle = false;
    auto finish = [&] {
        std::string addr = trim_lower(had_angle ? angle : bare);
        // A bare entry may still carry a display-name-less route or spaces; keep the last word.
        if (!had_angle) {
            const auto space = addr.find_last_of(" \t");
            if (space != std::string::npos) addr = addr.substr(space + 1);
        }
        if (addr.find('@') != std::string::npos && std::find(out.begin(), out.end(), addr) == out.end())
            out.push_back(addr);
        bare.clear();
        angle.clear();
        in_angle = had_angle = false;
    };
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '"') {  // quoted display name or local part
            std::string quoted;
            for (++i; i < value.size() && value[i] != '"'; ++i) {
                if (value[i] == '\\' && i + 1 < value.size()) ++i;
                quoted.push_back(value[i]);
            }
            (in_angle ? angle : bare) += '"' + quoted + '"';
        } else if (c == '(') {  // comment, possibly nested
            int depth = 1;
            for (++i; i < value.size() && depth > 0; ++i) {
                if (value[i] == '\\') ++i;
                else if (value[i] == '(') ++depth;
                else if (value[i] == ')') --depth;
            }
            --i;
        } else if (c == '<') {
            in_angle = had_angle = true;
            angle.clear();
        } else if (c == '>') {
            in_angle = false;
        } else if (c == ':' && !in_angle) {
            bare.clear();  // group name
        } else if ((c == ',' || c == ';') && !in_angle) {
            finish();
        } else {
            (in_angle ? angle : bare) += c;
        }
    }
    finish();
    return out;
}

}  // namespace smime::mime
