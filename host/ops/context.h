// SPDX-License-Identifier: MIT
// What an operation may know about the process it runs in: who called, where the data lives.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "policy/policy.h"

namespace smime {

class KeyStore;

// Who started the host: a Chromium-family extension (origin), a Mozilla add-on (id), or the CLI.
struct Caller {
    enum class Kind { Chromium, Mozilla, CommandLine };
    Kind kind = Kind::CommandLine;
    std::string origin;         // chrome-extension://<id>/ for Chromium
    std::string addon_id;       // for Firefox and Thunderbird
    std::string manifest_path;  // for Firefox and Thunderbird

    std::string describe() const;
    const char* kind_name() const;
};

class Context {
public:
    Context(Caller caller, std::filesystem::path home);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    const Caller& caller() const noexcept { return caller_; }
    const std::filesystem::path& home() const noexcept { return home_; }

    // The organisation's policy, read when the process starts.
    const Policy& policy() const noexcept { return policy_; }
    void set_policy(Policy policy) { policy_ = std::move(policy); }

    // What the transport carrying the requests allows, for `hello` to report: the native
    // messaging loop sets it; the command line has no frames, so none.
    const nlohmann::json& transport_limits() const noexcept { return transport_limits_; }
    void set_transport_limits(nlohmann::json limits) { transport_limits_ = std::move(limits); }

    // The key store, opened on first use (so `hello` and `echo` never touch the disk).
    KeyStore& store();

private:
    Caller caller_;
    std::filesystem::path home_;
    Policy policy_;
    nlohmann::json transport_limits_ = nlohmann::json::object();
    std::unique_ptr<KeyStore> store_;
};

}  // namespace smime
