// SPDX-License-Identifier: MIT
// Small helpers shared by the benchmark programs: wall-clock milliseconds and medians.
#pragma once

#include "mime/encoding.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smime::bench {

using Clock = std::chrono::steady_clock;

inline double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0.0 : values[values.size() / 2];
}

struct Sample {
    double seconds = 0;
    long peak_kib = 0;
};

// The median run of `runs` calls of f (by wall time), with that run's peak memory.
template <typename F>
Sample median_run(int runs, F f) {
    std::vector<Sample> samples;
    for (int i = 0; i < runs; ++i) samples.push_back(f());
    std::sort(samples.begin(), samples.end(),
              [](const Sample& a, const Sample& b) { return a.seconds < b.seconds; });
    return samples[samples.size() / 2];
}

// The message sizes every engine benchmark measures.
inline constexpr std::pair<const char*, std::size_t> kMessageSizes[] = {
    {"1KiB", 1024}, {"1MiB", 1 << 20}, {"10MiB", 10 << 20}, {"25MiB", 25 << 20}};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_file(const std::string& path, std::string_view data) {
    std::ofstream(path, std::ios::binary)
        .write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Runs commands (the openssl command line) and reports each one's wall time and peak resident
// memory. The commands are started by a small process forked before the benchmark allocates its
// messages: a child forked from the benchmark itself would carry the benchmark's memory in its
// peak (Linux counts the pre-exec image in ru_maxrss).
class CommandRunner {
public:
    static CommandRunner& instance() {
        static CommandRunner runner;
        return runner;
    }

    Sample run(const std::vector<std::string>& args) {
        std::string request;
        for (const auto& a : args) request.append(a).push_back('\0');
        const auto size = static_cast<std::uint32_t>(request.size());
        if (!write_all(to_[1], &size, sizeof size) ||
            !write_all(to_[1], request.data(), request.size()))
            throw std::runtime_error("command runner is gone");
        Sample s;
        if (!read_all(from_[0], &s, sizeof s)) throw std::runtime_error("command runner is gone");
        return s;
    }

    ~CommandRunner() {
        ::close(to_[1]);
        ::close(from_[0]);
        ::waitpid(pid_, nullptr, 0);
    }

private:
    CommandRunner() {
        if (::pipe(to_) != 0 || ::pipe(from_) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) serve();
        ::close(to_[0]);
        ::close(from_[1]);
    }

    [[noreturn]] void serve() {
        ::close(to_[1]);
        ::close(from_[0]);
        for (;;) {
            std::uint32_t size = 0;
            if (!read_all(to_[0], &size, sizeof size)) _exit(0);
            std::string request(size, '\0');
            if (!read_all(to_[0], request.data(), size)) _exit(0);
            std::vector<char*> argv;
            for (std::size_t at = 0; at < request.size(); at = request.find('\0', at) + 1)
                argv.push_back(request.data() + at);
            argv.push_back(nullptr);
            const auto start = Clock::now();
            const pid_t child = ::fork();
            if (child == 0) {
                if (!std::freopen("/dev/null", "w", stderr)) _exit(126);
                ::execvp(argv[0], argv.data());
                _exit(127);
            }
            int status = 0;
            struct rusage usage {};
            ::wait4(child, &status, 0, &usage);
            const Sample s{std::chrono::duration<double>(Clock::now() - start).count(),
                           usage.ru_maxrss};
            if (!write_all(from_[1], &s, sizeof s)) _exit(0);
        }
    }

    // read(2) or write(2) until all `n` bytes have moved.
    template <typename Io, typename Byte>
    static bool move_all(Io io, int fd, Byte* p, std::size_t n) {
        while (n > 0) {
            const ssize_t k = io(fd, p, n);
            if (k <= 0) return false;
            p += k;
            n -= static_cast<std::size_t>(k);
        }
        return true;
    }
    static bool write_all(int fd, const void* data, std::size_t n) {
        return move_all(::write, fd, static_cast<const char*>(data), n);
    }
    static bool read_all(int fd, void* data, std::size_t n) {
        return move_all(::read, fd, static_cast<char*>(data), n);
    }

    int to_[2]{}, from_[2]{};
    pid_t pid_ = -1;
};

// Call first thing in main(), before the benchmark's own memory grows.
inline void start_command_runner() { CommandRunner::instance(); }

inline Sample run_command(const std::vector<std::string>& args) {
    return CommandRunner::instance().run(args);
}

// A message of about `size` bytes: a short text part and a base64 attachment, as mail with
// attachments is.
inline std::string make_message(std::size_t size) {
    std::string attachment(size * 3 / 4, '\0');
    for (std::size_t i = 0; i < attachment.size(); ++i)
        attachment[i] = static_cast<char>((i * 2654435761u) >> 13);
    std::string m =
        "From: alice@example.test\r\nTo: alice@example.test\r\nSubject: bench\r\nMIME-Version: "
        "1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: "
        "text/plain\r\n\r\nHi.\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
        "base64\r\n\r\n";
    mime::append_base64_lines(attachment, m);
    m += "--b--\r\n";
    return m;
}

}  // namespace smime::bench
