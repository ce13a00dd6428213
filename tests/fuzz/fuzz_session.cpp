// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes as a native messaging input stream (frame reader, envelope,
// chunk reassembly, dispatch). Any crash, leak or sanitizer report is a bug.
#include "protocol/limits.h"
#include "protocol/session.h"

#include <cstring>

using namespace smime;

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
    Context context(Caller{}, "/nonexistent/smime-host-fuzz");
    Session session(registry(), context, reader, writer);
    session.run();
    return 0;
}
