// SPDX-License-Identifier: MIT
// Entry point: native messaging when started by a browser, the command line otherwise.
#include "cli/cli.h"
#include "cli/self_test.h"
#include "ops/operation.h"
#include "platform/large_pages.h"
#include "platform/platform.h"
#include "protocol/limits.h"
#include "protocol/session.h"
#include "util/log.h"
#include "util/print.h"
#include "version.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <string>
#include <string_view>

// Leak checkers (AddressSanitizer's) need OpenSSL to free its tables at exit, or they report them.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMIME_CHECKS_LEAKS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SMIME_CHECKS_LEAKS 1
#endif

namespace {

#if defined(SMIME_CHECKS_LEAKS)
constexpr std::uint64_t kSkipExitCleanup = 0;
#else
constexpr std::uint64_t kSkipExitCleanup = OPENSSL_INIT_NO_ATEXIT;
#endif

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Chromium family: argv[1] = chrome-extension://<id>/ (maybe followed by --parent-window=N on
// Windows). Firefox and Thunderbird: argv[1] = absolute manifest path, argv[2] = add-on id.
std::optional<smime::Caller> browser_caller(int argc, char** argv) {
    if (argc < 2) return std::nullopt;
    const std::string_view first = argv[1];
    smime::Caller caller;
    if (starts_with(first, "chrome-extension://")) {
        caller.kind = smime::Caller::Kind::Chromium;
        caller.origin = first;
        return caller;
    }
    const bool absolute = starts_with(first, "/") || (first.size() > 2 && first[1] == ':');
    if (absolute && ends_with(first, ".json")) {
        caller.kind = smime::Caller::Kind::Mozilla;
        caller.manifest_path = first;
        if (argc >= 3) caller.addon_id = argv[2];
        return caller;
    }
    return std::nullopt;
}

// The budget of memory for uploads in progress: SMIME_HOST_UPLOAD_BUDGET_MIB, else the default.
std::size_t upload_budget() {
    const auto text = smime::platform::env("SMIME_HOST_UPLOAD_BUDGET_MIB");
    if (!text) return smime::limits::kDefaultUploadBudget;
    try {
        std::size_t used = 0;
        const unsigned long long mib = std::stoull(*text, &used);
        if (used == text->size() && mib >= 1 && mib <= (std::size_t{1} << 20))
            return static_cast<std::size_t>(mib) << 20;
    } catch (const std::exception&) {
    }
    smime::log::warn(
        "SMIME_HOST_UPLOAD_BUDGET_MIB must be a number of MiB from 1 to 1048576; using the "
        "default");
    return smime::limits::kDefaultUploadBudget;
}

int serve(smime::Caller caller) {
    using namespace smime;
    // The serving process holds the key-encryption key and unsealed private keys: keep them out
    // of core files. Their memory is locked where it is made (SecureString::lock_pages, and
    // OpenSSL's secure heap when the first private key is decoded: use_secure_heap).
    platform::forbid_core_dumps();
    platform::prepare_stdio();
    log::info("serving native messaging for " + caller.describe());
    std::filesystem::path home;
    try {
        home = platform::data_directory();
    } catch (const Error& e) {
        log::warn(std::string("no data directory: ") + e.what());
    }
    Context context(std::move(caller), home);
    frame::Reader reader(platform::read_stdin, limits::kMaxIncomingFrame);
    frame::Writer writer(platform::write_stdout, limits::kMaxOutgoingFrame);
    Session session(registry(), context, reader, writer);
    session.set_upload_budget(upload_budget());
    const int status = session.run();
    // Every reply is written: the caller learns the session is over before the store closes and
    // the memory holding keys is wiped (a client that starts one host per message waits for it).
    platform::finish_stdout();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    smime::platform::use_large_pages();
    // OpenSSL's error strings take a fresh process almost a million instructions to load, for
    // log lines only: the log gives OpenSSL's error codes instead (`openssl errstr` reads them).
    // Its exit-time cleanup frees the library's tables one by one (another 0.8 million) for a
    // process that is about to end. Nothing secret waits for it: the key store frees the keys it
    // holds when it closes, before `main` returns, and OpenSSL wipes each as it is freed.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | kSkipExitCleanup, nullptr);
    smime::log::init_from_environment();
    if (auto caller = browser_caller(argc, argv)) return serve(std::move(*caller));
    if (argc < 2) {
        smime::cli::print_usage();
        return 2;
    }
    const std::string_view command = argv[1];
    if (command == "--stdio") return serve(smime::Caller{});
    if (command == "--help" || command == "-h" || command == "help") {
        smime::cli::print_usage();
        return 0;
    }
    if (command == "--version") {
        smime::print(std::string("smime-host ") + smime::kVersion + " (protocol " +
                     std::to_string(smime::kProtocolVersion) + ")\n");
        return 0;
    }
    smime::platform::prepare_stdio();
    if (command == "self-test") return smime::cli::self_test(argc, argv);
    return smime::cli::run(argc, argv);
}
