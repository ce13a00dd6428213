// SPDX-License-Identifier: MIT
// stderr logger: one line per event, prefixed so browser consoles show where it came from.
#include "util/log.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace smime::log {
namespace {
Level g_level = Level::Warn;

const char* level_name(Level level) {
    switch (level) {
        case Level::Debug: return "debug";
        case Level::Info: return "info";
        case Level::Warn: return "warn";
        case Level::Error: return "error";
        case Level::Off: return "off";
    }
    return "?";
}
}  // namespace

void init_from_environment() {
    const char* value = std::getenv("SMIME_HOST_LOG");
    if (!value) return;
    const std::string_view v(value);
    if (v == "debug") g_level = Level::Debug;
    else if (v == "info") g_level = Level::Info;
    else if (v == "warn") g_level = Level::Warn;
    else if (v == "error") g_level = Level::Error;
    else if (v == "off") g_level = Level::Off;
}

void set_level(Level level) { g_level = level; }
bool enabled(Level level) { return level >= g_level && g_level != Level::Off; }

void write(Level level, std::string_view text) {
    if (!enabled(level)) return;
    std::string line = "smime-host[";
    line += level_name(level);
    line += "]: ";
    line += text;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

void openssl_errors(std::string_view context) {
    unsigned long err = 0;
    while ((err = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(err, buf, sizeof buf);
        if (enabled(Level::Warn)) {
            std::string line(context);
            line += ": ";
            line += buf;
            write(Level::Warn, line);
        }
    }
}

}  // namespace smime::log
