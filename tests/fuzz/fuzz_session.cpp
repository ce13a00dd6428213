// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes as a native messaging input stream (frame reader, envelope,
// chunk reassembly, dispatch). Any crash, leak or sanitizer report is a bug.
#include "protocol/limits.h"
#include "protocol/session.h"

#include <stdlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

using namespace smime;

namespace {

void remove_home();

// A private folder for the key store that fuzzed requests may open, made once per fuzzer process
// and removed when it exits.
const std::filesystem::path& fuzz_home() {
    static const std::filesystem::path home = [] {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "smime-host-fuzz-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        return std::filesystem::path(pattern);
    }();
    // Registered after `home` is complete, so it runs before `home` is destroyed.
    static const bool cleanup_registered = std::atexit(remove_home) == 0;
    (void)cleanup_registered;
    return home;
}

void remove_home() {
    std::error_code ec;
    std::filesystem::remove_all(fuzz_home(), ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::size_t pos = 0;
    frame::Reader reader(
        [&](char* dst, std::size_t want) -> long {
            const std::size_t n = std::min(want, size - pos);
            if (n) std::memcpy(dst, data + pos, n);
            pos += n;
            return static_cast<long>(n);
        },
        // A small limit keeps the fuzzer from spending its time allocating 64 MiB frames.
        1 << 20);
    std::size_t written = 0;
    frame::Writer writer(
        [&](const char*, std::size_t a, const char*, std::size_t b) {
            written += a + b;
            return true;
        },
        limits::kMaxOutgoingFrame);
    Context context(Caller{}, fuzz_home());
    Session session(registry(), context, reader, writer);
    session.run();
    return 0;
}
