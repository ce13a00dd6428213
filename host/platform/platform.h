// SPDX-License-Identifier: MIT
// Everything that differs between Linux, macOS and Windows lives behind this header.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace smime::platform {

// Puts stdin/stdout in binary mode (Windows would otherwise translate CRLF and break framing) and
// makes a closed pipe an error return instead of a fatal signal.
void prepare_stdio();

// For a process that will hold unlocked keys (serve mode): no core file and no dump of its memory
// by other processes of the user. Linux: PR_SET_DUMPABLE 0 (also refuses ptrace by the same user
// and makes /proc/<pid>/mem root-only) and RLIMIT_CORE 0. macOS: RLIMIT_CORE 0 and
// PT_DENY_ATTACH. Windows has no core files; nothing to do. Failures are logged, not fatal.
void forbid_core_dumps();

// Reads up to `size` bytes from stdin; returns 0 on EOF, -1 on error. Retries on EINTR.
long read_stdin(char* buffer, std::size_t size);

// Writes all of the given pieces to stdout, in order, as one logical write. False on failure.
bool write_stdout(const char* a, std::size_t a_size, const char* b, std::size_t b_size);

// Ends the output stream: the reader sees end of file now, not when the process has torn itself
// down. Later writes to stdout go to the null device instead of whatever opens the descriptor
// next.
void finish_stdout() noexcept;

// Value of an environment variable, if set and non-empty.
std::optional<std::string> env(const char* name);

// The per-user data directory: SMIME_HOST_HOME if set, otherwise
// $XDG_DATA_HOME/smime-host (~/.local/share/smime-host) on Linux,
// ~/Library/Application Support/smime-host on macOS, %LOCALAPPDATA%\smime-host on Windows.
std::filesystem::path data_directory();

// Creates `dir` (and its missing parents, each 0700 whatever the umask) and restricts it to the
// user (0700 on POSIX). Throws Error(Storage) if `dir` belongs to another user, or if it or a
// folder above it is writable by every user without the sticky bit.
void ensure_private_directory(const std::filesystem::path& dir);

// Restricts a file to the user (0600 on POSIX). Missing files are ignored.
void restrict_file(const std::filesystem::path& file);

// Whether stdin is an interactive terminal (for passphrase prompts in the CLI).
bool stdin_is_terminal();

// Reads a line from the terminal without echo. Empty optional if no terminal.
std::optional<std::string> read_secret_line(const std::string& prompt);

// Monotonic milliseconds, for idle timeouts and back-off.
long long monotonic_ms();

// Asks the kernel to back [p, p+n) with transparent huge pages before it is touched (Linux,
// madvise MADV_HUGEPAGE on the whole pages inside; a hint, a no-op elsewhere). First-touch page
// faults, not copying, dominate the cost of a fresh buffer of many MiB.
void advise_huge_pages(void* p, std::size_t n) noexcept;

}  // namespace smime::platform
