// SPDX-License-Identifier: MIT
// Small helpers shared by the benchmark programs: wall-clock milliseconds and medians.
#pragma once

#include "mime/encoding.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
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

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_file(const std::string& path, std::string_view data) {
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Runs a command (the openssl command line), returning its wall time and peak resident memory.
inline Sample run_command(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const auto start = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        if (!std::freopen("/dev/null", "w", stderr)) _exit(126);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    struct rusage usage {};
    wait4(pid, &status, 0, &usage);
    return {std::chrono::duration<double>(Clock::now() - start).count(), usage.ru_maxrss};
}

// A message of about `size` bytes: a short text part and a base64 attachment, as mail with
// attachments is.
inline std::string make_message(std::size_t size) {
    std::string attachment(size * 3 / 4, '\0');
    for (std::size_t i = 0; i < attachment.size(); ++i) attachment[i] = static_cast<char>((i * 2654435761u) >> 13);
    std::string m = "From: alice@example.test\r\nTo: alice@example.test\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHi.\r\n"
                    "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    mime::append_base64_lines(attachment, m);
    m += "--b--\r\n";
    return m;
}

}  // namespace smime::bench
