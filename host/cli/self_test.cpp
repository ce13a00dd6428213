// SPDX-License-Identifier: MIT
// `smime-host self-test`: starts this binary as a browser would and checks each step of a round
// trip.
#include "cli/self_test.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "extension_ids.h"
#include "platform/child_process.h"
#include "platform/platform.h"
#include "protocol/frame.h"
#include "protocol/limits.h"
#include "util/base64.h"
#include "version.h"

namespace smime::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int kReplyTimeoutMs = 10'000;
constexpr int kExitTimeoutMs = 2'000;  // Chrome kills a host 2 s after closing its stdin
constexpr std::size_t kEchoBytes = 4 * 1024 * 1024 + 1234;  // several chunks, the last one short

// A step that did not pass; the message says what was wrong, for people.
class StepFailed final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

void expect(bool condition, const std::string& what) {
    if (!condition) throw StepFailed(what);
}

// A private temporary directory for the host's data, removed at the end.
class TempHome final {
  public:
    TempHome() {
        const fs::path base = fs::temp_directory_path();
        for (int attempt = 0; attempt < 16 && path_.empty(); ++attempt) {
            unsigned char random[8];
            if (RAND_bytes(random, sizeof random) != 1) break;
            std::string name = "smime-host-self-test-";
            for (const unsigned char byte : random) {
                static constexpr char kHex[] = "0123456789abcdef";
                name += kHex[byte >> 4];
                name += kHex[byte & 15];
            }
            std::error_code ec;
            if (fs::create_directory(base / name, ec)) path_ = base / name;
        }
        if (path_.empty())
            throw StepFailed("cannot create a temporary directory in " + base.string());
        platform::ensure_private_directory(path_);
    }
    ~TempHome() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempHome(const TempHome&) = delete;
    TempHome& operator=(const TempHome&) = delete;
    const fs::path& path() const noexcept { return path_; }

  private:
    fs::path path_;
};

// The host under test, spoken to the way an extension speaks to it.
class Run final {
  public:
    Run(fs::path executable, std::string origin)
        : executable_(std::move(executable)), origin_(std::move(origin)) {}

    const fs::path& executable() const noexcept { return executable_; }
    const std::string& origin() const noexcept { return origin_; }

    void start() {
        home_ = std::make_unique<TempHome>();
        host_ = std::make_unique<platform::ChildProcess>(
            executable_, std::vector<std::string>{origin_},
            platform::ChildProcess::Environment{{"SMIME_HOST_HOME", home_->path().string()}});
        reader_ = std::make_unique<frame::Reader>(
            [this](char* buffer, std::size_t size) {
                const long n = host_->read(buffer, size, kReplyTimeoutMs);
                if (n == platform::ChildProcess::kTimedOut)
                    throw StepFailed("no reply within " + std::to_string(kReplyTimeoutMs / 1000) +
                                     " s");
                return n;
            },
            limits::kMaxOutgoingFrame);
    }

    void send(const json& message) {
        expect(host_ != nullptr, "the host is not running");
        expect(host_->write_all(frame::encode(message.dump())), "the host closed its input");
    }

    json receive() {
        std::string body;
        switch (reader_->next(body)) {
            case frame::ReadStatus::Frame:
                break;
            case frame::ReadStatus::Eof:
                throw StepFailed("the host closed its output");
            case frame::ReadStatus::Truncated:
                throw StepFailed("the host's output ended inside a frame");
            case frame::ReadStatus::TooLarge:
                throw StepFailed("the host sent a frame over 1 MiB, which browsers drop");
            case frame::ReadStatus::IoError:
                throw StepFailed("cannot read the host's output");
        }
        try {
            return json::parse(body);
        } catch (const json::exception&) {
            throw StepFailed("the host's reply is not JSON");
        }
    }

    // Sends a request and returns its result, failing the step on an error reply.
    json call(const std::string& op, const json& args = json::object()) {
        const int id = next_id();
        send({{"id", id}, {"op", op}, {"args", args}});
        return result_of(receive(), id);
    }

    static json result_of(const json& reply, int id) {
        expect(reply.value("id", json()) == id,
               "a reply for another request: " + reply.value("id", json()).dump());
        if (reply.value("ok", false) != true) {
            const json error = reply.value("error", json::object());
            throw StepFailed(error.value("code", std::string("no error code")) + ": " +
                             error.value("message", std::string()));
        }
        return reply.value("result", json::object());
    }

    int next_id() { return ++last_id_; }

    // Closes the host's input as a browser does when the port goes away; returns its exit status.
    std::optional<int> finish() {
        host_->close_stdin();
        return host_->wait(kExitTimeoutMs);
    }

  private:
    fs::path executable_;
    std::string origin_;
    std::unique_ptr<TempHome> home_;
    std::unique_ptr<platform::ChildProcess> host_;
    std::unique_ptr<frame::Reader> reader_;
    int last_id_ = 0;
};

// A step returns a few words for the report ("protocol 1") or throws StepFailed.
struct Step {
    std::string title;
    std::function<std::string(Run&)> run;
};

std::string start_host(Run& run) {
    run.start();
    return run.origin();
}

std::string hello(Run& run) {
    const json result = run.call("hello");
    expect(result.value("name", "") == "smime-host", "hello did not come from smime-host");
    expect(result.value("protocol", 0) == kProtocolVersion,
           "protocol " + result.value("protocol", json()).dump() + ", expected " +
               std::to_string(kProtocolVersion));
    expect(result.value("version", "") == kVersion, "version " +
                                                        result.value("version", json()).dump() +
                                                        " answered, this binary is " + kVersion);
    const json caller = result.value("caller", json::object());
    expect(caller.value("kind", "") == "chromium" && caller.value("origin", "") == run.origin(),
           "the host did not recognise its caller: " + caller.dump());
    return "smime-host " + result.value("version", "") + ", protocol " +
           std::to_string(kProtocolVersion) + ", " + result.value("openssl", "");
}

// Deterministic bytes covering every value, so a corrupted byte anywhere shows.
std::string pattern(std::size_t size) {
    std::string data(size, '\0');
    std::uint32_t state = 2463534242u;
    for (char& c : data) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        c = static_cast<char>(state & 0xff);
    }
    return data;
}

std::string echo_chunked(Run& run) {
    const std::string sent = pattern(kEchoBytes);
    const std::string text =
        "S/MIME \u2713 Gr\u00fc\u00dfe \u65e5\u672c";  // multi-byte UTF-8 must survive
    const std::size_t chunk = limits::kReplyChunkRaw;
    const std::size_t chunks = (sent.size() + chunk - 1) / chunk;
    const int id = run.next_id();
    run.send({{"id", id},
              {"op", "echo"},
              {"args", {{"data", {{"chunks", chunks}, {"size", sent.size()}}}, {"text", text}}}});
    for (std::size_t i = 0; i < chunks; ++i) {
        const std::string_view piece = std::string_view(sent).substr(i * chunk, chunk);
        run.send({{"id", id}, {"chunk", i}, {"data", base64::encode(piece)}});
    }
    const json result = Run::result_of(run.receive(), id);
    expect(result.value("size", json()) == sent.size(),
           "echo reports size " + result.value("size", json()).dump());
    expect(result.value("text", "") == text, "the text came back altered");
    const json reference = result.value("data", json());
    expect(reference.is_object() && reference.value("chunks", 0) > 0,
           "a payload over 512 KiB must come back in chunks");
    const auto reply_chunks = reference["chunks"].get<std::size_t>();
    std::string received;
    received.reserve(sent.size());
    for (std::size_t i = 0; i < reply_chunks; ++i) {
        const json frame = run.receive();
        expect(frame.value("id", json()) == id && frame.value("chunk", json()) == i,
               "expected chunk " + std::to_string(i) + ", got " + frame.dump().substr(0, 80));
        expect(base64::decode_append(frame.value("data", ""), received),
               "chunk " + std::to_string(i) + " is not base64");
    }
    expect(received == sent, "the payload came back altered");
    return std::to_string(sent.size() >> 20) + " MiB in " + std::to_string(chunks) +
           " chunks, back in " + std::to_string(reply_chunks);
}

std::string shut_down(Run& run) {
    const auto status = run.finish();
    expect(status.has_value(),
           "still running " + std::to_string(kExitTimeoutMs / 1000) + " s after end of input");
    expect(*status == 0, "exit status " + std::to_string(*status));
    return "exit status 0";
}

// The steps, in order; each needs the ones before it to have passed.
std::vector<Step> steps() {
    return {
        {"start as a browser would", start_host},
        {"hello", hello},
        {"echo a payload in chunks", echo_chunked},
        // The S/MIME round trip goes here, before the shutdown, as the key store and the engine
        // land: identities.import (a throwaway PKCS#12 into the temporary store), message.sign,
        // message.verify, message.encrypt, message.decrypt; each a function like echo_chunked.
        {"exit on end of input", shut_down},
    };
}

void print_help() {
    std::cout
        << "smime-host self-test: check this installation with a round trip through the native\n"
           "messaging loop. Starts this binary as a browser would (caller chrome-extension://"
        << kChromiumExtensionId
        << "/,\npipes, framed JSON, a fresh temporary data directory), runs each step and prints\n"
           "one line per step. Exit status 0 only if every step passed.\n";
}

}  // namespace

int self_test(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            print_help();
            return 0;
        }
        std::cerr << "smime-host self-test: unexpected argument '" << arg << "'\n";
        return 2;
    }

    fs::path executable;
    try {
        executable = platform::executable_path();
    } catch (const std::exception& e) {
        std::cerr << "smime-host self-test: " << e.what() << "\n";
        return 1;
    }
    Run run(executable, std::string("chrome-extension://") + kChromiumExtensionId + "/");
    std::cout << "smime-host self-test of " << executable.string() << "\n";

    using Clock = std::chrono::steady_clock;
    const auto all_steps = steps();
    const auto started = Clock::now();
    std::size_t passed = 0;
    std::string failure;
    for (const Step& step : all_steps) {
        std::string title = step.title;
        if (title.size() < 26) title.resize(26, ' ');
        if (!failure.empty()) {
            std::cout << "  - " << title << "      not run\n";
            continue;
        }
        const auto begin = Clock::now();
        std::string detail;
        bool ok = true;
        try {
            detail = step.run(run);
        } catch (const std::exception& e) {  // StepFailed, or smime::Error from starting the host
            detail = e.what();
            ok = false;
        }
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
        char timing[32];
        std::snprintf(timing, sizeof timing, "%5lld ms", static_cast<long long>(ms));
        std::cout << "  " << (ok ? "\u2713 " : "\u2717 ") << title << timing << "  " << detail
                  << "\n";
        if (ok)
            ++passed;
        else
            failure = step.title + ": " + detail;
    }
    const auto total =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (failure.empty()) {
        std::cout << "self-test passed: " << passed << " of " << all_steps.size() << " steps in "
                  << total << " ms\n";
        return 0;
    }
    std::cout << "self-test FAILED at '" << failure << "'\n";
    return 1;
}

}  // namespace smime::cli
