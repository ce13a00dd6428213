// SPDX-License-Identifier: MIT
// Starting a program with its stdin and stdout on pipes, as a browser starts a native host.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smime::platform {

// The absolute path of the running executable (/proc/self/exe on Linux).
std::filesystem::path executable_path();

// A child process whose stdin and stdout are pipes held by us; its stderr is ours. The destructor
// closes the pipes and kills and reaps the child if it is still running.
class ChildProcess final {
public:
    using Environment = std::vector<std::pair<std::string, std::string>>;

    // Starts `program` with `args` as argv[1...] and our environment plus `overrides`.
    // Throws smime::Error(Code::Internal) if it cannot be started.
    ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
                 const Environment& overrides);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Writes all of `data` to the child's stdin. False if the pipe is closed.
    bool write_all(std::string_view data);

    static constexpr long kTimedOut = -2;
    // Reads up to `size` bytes of the child's stdout, waiting at most `timeout_ms`:
    // bytes read, 0 at end of file, -1 on error, kTimedOut.
    long read(char* buffer, std::size_t size, int timeout_ms);

    void close_stdin();

    // The exit status once the child has exited, or nothing if it is still running after
    // `timeout_ms`.
    std::optional<int> wait(int timeout_ms);

private:
    struct Handles;
    std::unique_ptr<Handles> handles_;
};

}  // namespace smime::platform
