// SPDX-License-Identifier: MIT
// Logging to stderr only (stdout carries frames). Never pass message content or secrets here.
#pragma once

#include <string_view>

namespace smime::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Reads SMIME_HOST_LOG (debug|info|warn|error|off); default warn.
void init_from_environment();
void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view text);

inline void debug(std::string_view text) { write(Level::Debug, text); }
inline void info(std::string_view text) { write(Level::Info, text); }
inline void warn(std::string_view text) { write(Level::Warn, text); }
inline void error(std::string_view text) { write(Level::Error, text); }

// Drains OpenSSL's error queue into the log (at warn level), prefixed with `context`. The host
// does not load OpenSSL's error texts (main.cpp): a line then carries the numeric code, which
// `openssl errstr` explains.
void openssl_errors(std::string_view context);

}  // namespace smime::log
