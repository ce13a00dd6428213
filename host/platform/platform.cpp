// SPDX-License-Identifier: MIT
// POSIX implementation of the platform unit (Linux and macOS); Windows branches are marked.
#include "platform/platform.h"

#include "util/error.h"
#include "util/log.h"
#include "util/print.h"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>
#include <csignal>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__APPLE__)
#include <sys/ptrace.h>
#include <sys/types.h>
#endif

namespace smime::platform {

void forbid_core_dumps() {
#ifndef _WIN32
    const struct rlimit none = {0, 0};
    if (::setrlimit(RLIMIT_CORE, &none) != 0) log::warn("cannot turn off core files");
#endif
#if defined(__linux__)
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        log::warn("cannot make the process non-dumpable");
#elif defined(__APPLE__)
    if (::ptrace(PT_DENY_ATTACH, 0, nullptr, 0) != 0) log::warn("cannot deny debugger attachment");
#endif
}

void prepare_stdio() {
#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#else
    std::signal(SIGPIPE, SIG_IGN);
#if defined(F_SETPIPE_SZ)
    // Browsers connect us with 64 KiB pipes, so a 1 MiB frame needs 16 hand-overs between the
    // processes, each a context switch. 1 MiB pipes (the default unprivileged maximum) move a
    // reply chunk in one. Where stdin/stdout are not pipes, or the limit is lower, nothing changes.
    for (int fd : {0, 1}) ::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
#endif
}

long read_stdin(char* buffer, std::size_t size) {
#ifdef _WIN32
    return _read(0, buffer, static_cast<unsigned>(size));
#else
    for (;;) {
        const ssize_t n = ::read(0, buffer, size);
        if (n < 0 && errno == EINTR) continue;
        return static_cast<long>(n);
    }
#endif
}

bool write_stdout(const char* a, std::size_t a_size, const char* b, std::size_t b_size) {
#ifdef _WIN32
    return _write(1, a, static_cast<unsigned>(a_size)) == static_cast<int>(a_size) &&
           (b_size == 0 || _write(1, b, static_cast<unsigned>(b_size)) == static_cast<int>(b_size));
#else
    iovec parts[2] = {{const_cast<char*>(a), a_size}, {const_cast<char*>(b), b_size}};
    int index = 0;
    while (index < 2) {
        if (parts[index].iov_len == 0) {
            ++index;
            continue;
        }
        const ssize_t n = ::writev(1, parts + index, 2 - index);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        auto left = static_cast<std::size_t>(n);
        while (index < 2 && left >= parts[index].iov_len) {
            left -= parts[index].iov_len;
            parts[index].iov_len = 0;
            ++index;
        }
        if (index < 2) {
            parts[index].iov_base = static_cast<char*>(parts[index].iov_base) + left;
            parts[index].iov_len -= left;
        }
    }
    return true;
#endif
}

void finish_stdout() noexcept {
#ifdef _WIN32
    const int null = _open("NUL", _O_WRONLY | _O_BINARY);
    if (null < 0) {
        _close(1);
        return;
    }
    if (null != 1) {
        _dup2(null, 1);
        _close(null);
    }
#else
    // /dev/null takes the descriptor's place (dup2 closes the pipe atomically); if it cannot be
    // opened, the pipe is closed and the number stays free.
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0) {
        ::close(1);
        return;
    }
    if (null != 1) {
        ::dup2(null, 1);
        ::close(null);
    }
#endif
}

std::optional<std::string> env(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) return std::nullopt;
    return std::string(value);
}

std::filesystem::path data_directory() {
    if (auto home = env("SMIME_HOST_HOME")) return std::filesystem::path(*home);
#ifdef _WIN32
    if (auto local = env("LOCALAPPDATA")) return std::filesystem::path(*local) / "smime-host";
    throw Error(Code::Storage, "LOCALAPPDATA is not set");
#elif defined(__APPLE__)
    if (auto home = env("HOME"))
        return std::filesystem::path(*home) / "Library" / "Application Support" / "smime-host";
    throw Error(Code::Storage, "HOME is not set");
#else
    if (auto xdg = env("XDG_DATA_HOME")) return std::filesystem::path(*xdg) / "smime-host";
    if (auto home = env("HOME"))
        return std::filesystem::path(*home) / ".local" / "share" / "smime-host";
    throw Error(Code::Storage, "neither XDG_DATA_HOME nor HOME is set");
#endif
}

void ensure_private_directory(const std::filesystem::path& dir) {
#ifdef _WIN32
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(Code::Storage, "cannot create the data directory: " + ec.message());
#else
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::absolute(dir, ec).lexically_normal();
    if (ec) throw Error(Code::Storage, "cannot resolve the data directory: " + ec.message());
    // Create each missing folder 0700 whatever the umask: under umask 000, create_directories
    // would leave the parents writable by every user, who could then move the store away.
    std::filesystem::path current;
    for (const auto& part : target) {
        current /= part;
        if (part.empty() || current == current.root_path()) continue;
        if (::mkdir(current.c_str(), 0700) == 0) {
            if (::chmod(current.c_str(), 0700) != 0)
                throw Error(Code::Storage, "cannot restrict the data directory to its owner");
        } else if (errno != EEXIST) {
            throw Error(Code::Storage, "cannot create the data directory " + current.string() +
                                           ": " + std::generic_category().message(errno));
        }
    }
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(Code::Storage, "the data directory " + target.string() + " is not a folder");
    if (st.st_uid != ::geteuid())
        throw Error(Code::Storage,
                    "the data directory " + target.string() + " belongs to another user");
    // Any folder on the way that every user may write to without the sticky bit (as /tmp has it)
    // lets another user rename the store's folder and put their own in its place.
    for (std::filesystem::path p = target;; p = p.parent_path()) {
        struct stat parent {};
        if (::stat(p.c_str(), &parent) == 0 && (parent.st_mode & S_IWOTH) &&
            !(parent.st_mode & S_ISVTX))
            throw Error(Code::Storage,
                        "the folder " + p.string() +
                            " is writable by every user: the key store is not safe below it; "
                            "remove the write permission for others (chmod o-w) or choose another "
                            "place with SMIME_HOST_HOME");
        if (p == p.root_path() || p.parent_path() == p) break;
    }
    if (::chmod(target.c_str(), 0700) != 0)
        throw Error(Code::Storage, "cannot restrict the data directory to its owner");
#endif
}

void restrict_file(const std::filesystem::path& file) {
#ifndef _WIN32
    ::chmod(file.c_str(), 0600);
#else
    (void)file;
#endif
}

bool stdin_is_terminal() {
#ifdef _WIN32
    return _isatty(0) != 0;
#else
    return ::isatty(0) != 0;
#endif
}

namespace {

// One line of stdin, without its line end.
void read_line(std::string& line) {
    for (int c = std::getchar(); c != EOF && c != '\n'; c = std::getchar())
        line.push_back(static_cast<char>(c));
}

}  // namespace

std::optional<std::string> read_secret_line(const std::string& prompt) {
    if (!stdin_is_terminal()) return std::nullopt;
    print_error(prompt);
    std::string line;
#ifndef _WIN32
    termios old_mode{};
    const bool have_mode = ::tcgetattr(0, &old_mode) == 0;
    if (have_mode) {
        termios silent = old_mode;
        silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(0, TCSAFLUSH, &silent);
    }
    read_line(line);
    if (have_mode) ::tcsetattr(0, TCSAFLUSH, &old_mode);
#else
    read_line(line);
#endif
    print_error("\n");
    return line;
}

long long monotonic_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void advise_huge_pages(void* p, std::size_t n) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t page = 4096;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
    if (p && end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

}  // namespace smime::platform
