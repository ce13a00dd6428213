// SPDX-License-Identifier: MIT
// Drives the real smime-host binary over pipes, as a browser does (Boost.Process).
#pragma once

#include "util/base64.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smime::test {

using json = nlohmann::json;

std::filesystem::path host_binary();
std::filesystem::path make_temp_dir(const std::string& tag);
std::string frame_bytes(const std::string& body);  // 4-byte native-order length + body

class HostProcess {
public:
    // Starts the host with `args` (default: as Chromium would) and SMIME_HOST_HOME=`home`.
    // `launcher` is a command that sets something up and then execs the host in the same process
    // (e.g. `prlimit --as=N`), so pid() is still the host's.
    explicit HostProcess(const std::filesystem::path& home, std::vector<std::string> args = {},
                         std::map<std::string, std::string> env = {},
                         std::vector<std::string> launcher = {});
    ~HostProcess();
    HostProcess(const HostProcess&) = delete;
    HostProcess& operator=(const HostProcess&) = delete;

    void write_raw(const std::string& bytes);
    void send(const json& request);           // one frame
    void send_text(const std::string& body);  // one frame with these exact bytes
    // Next frame body, or nullopt on EOF/timeout.
    std::optional<std::string> read_frame(
        std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // The same into `body`, reusing its memory (for reading many large frames); false on
    // EOF/timeout.
    bool read_frame_into(std::string& body,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));
    json read_json(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    json request(const json& req);  // send + read one reply

    // Sends a payload-carrying request chunked like an extension, and reassembles the reply
    // payload.
    json call_with_payload(json request, const std::string& arg, const std::string& payload,
                           std::size_t chunk_raw, std::string* reply_payload,
                           const std::string& reply_field);
    // The same in two steps, so a benchmark can time the exchange alone: the frames an extension
    // would send (request, then chunks), and sending them and reading the reply.
    static std::string payload_frames(json request, const std::string& arg,
                                      const std::string& payload, std::size_t chunk_raw);
    json exchange(const std::string& frames, std::string* reply_payload,
                  const std::string& reply_field);

    void close_stdin();
    // Exit code, or nullopt if it did not exit within the timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running();
    void kill();
    std::string stderr_text() const;
    int pid() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace smime::test
