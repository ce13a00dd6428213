// SPDX-License-Identifier: MIT
// Unit tests for secret buffers: nothing of a secret is left in memory that is given back unwiped.
#include "mime/canonical.h"
#include "mime/header_protection.h"
#include "protocol/limits.h"
#include "protocol/session.h"
#include "support/frames.h"
#include "util/base64.h"
#include "util/secure.h"

#include <doctest/doctest.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

using namespace smime;

// Every block given back while `watching` is searched for `needle` before it is freed, so a test
// sees whether a secret left the program's hands unwiped.
namespace {
bool watching = false;
const char* needle = nullptr;
std::size_t needle_size = 0;
int found = 0;

void inspect(void* p) noexcept {
    if (!watching || !p || !needle) return;
    const std::size_t n = malloc_usable_size(p);
    if (::memmem(p, n, needle, needle_size)) ++found;
}
}  // namespace

// The replaced pair allocates with malloc, so free() matches what new returned.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    inspect(p);
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    inspect(p);
    std::free(p);
}

namespace {
bool all_zero(const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}
}  // namespace

TEST_CASE("a short secret leaves nothing in the small-string buffer it was moved out of") {
    SecureString a(std::string("hunter2"));
    const char* buffer = a.data();  // the small-string buffer inside `a`
    REQUIRE(a.str().capacity() < 32);
    SecureString b(std::move(a));
    CHECK(b.str() == "hunter2");
    CHECK(all_zero(buffer, a.str().capacity()));

    SecureString c(std::string("swordfish"));
    const char* c_buffer = c.data();
    SecureString d;
    d = std::move(c);
    CHECK(d.str() == "swordfish");
    CHECK(all_zero(c_buffer, c.str().capacity()));
}

TEST_CASE("wiping covers the whole capacity, not only the current size") {
    SecureString s(std::string(100, 'k'));
    s.mutable_str().resize(3);  // the rest of the key is still in the buffer
    const char* p = s.data();
    const std::size_t capacity = s.str().capacity();
    s.wipe();
    REQUIRE(s.data() == p);  // wipe() keeps the memory for reuse, so it can be looked at
    CHECK(all_zero(p, capacity));

    std::string plain(200, 'p');
    plain.resize(1);
    cleanse(plain);
    CHECK(all_zero(plain.data(), plain.capacity()));
}

TEST_CASE("an inline reply payload is never freed unwiped") {
    // Chunks arrive by the fast path (no JSON parser copies), so the only copies of the payload's
    // base64 are the frame buffer (wiped) and whatever the reply is built in.
    std::string payload(300 * 1000, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>((i * 2654435761u) >> 13);
    const std::string encoded = base64::encode(payload);
    std::string input =
        test::frame(json{{"id", 5},
                         {"op", "echo"},
                         {"args", {{"data", {{"chunks", 2}, {"size", payload.size()}}}}}});
    for (std::size_t i = 0; i < 2; ++i)
        input += test::frame("{\"id\":5,\"chunk\":" + std::to_string(i) + ",\"data\":\"" +
                             base64::encode(payload.substr(i * 150000, 150000)) + "\"}");
    std::string output;
    output.reserve(2 * encoded.size() + 4096);
    std::size_t pos = 0;
    {
        frame::Reader reader(
            [&](char* dst, std::size_t size) -> long {
                const std::size_t n = std::min(size, input.size() - pos);
                std::memcpy(dst, input.data() + pos, n);
                pos += n;
                return static_cast<long>(n);
            },
            limits::kMaxIncomingFrame);
        frame::Writer writer(
            [&output](const char* a, std::size_t an, const char* b, std::size_t bn) {
                output.append(a, an).append(b, bn);
                return true;
            },
            limits::kMaxOutgoingFrame);
        Context context(Caller{}, {});
        Session session(registry(), context, reader, writer);
        const std::string probe = encoded.substr(encoded.size() / 2, 64);
        needle = probe.data();
        needle_size = probe.size();
        found = 0;
        watching = true;
        session.run();
        watching = false;
        needle = nullptr;
    }
    CHECK(found == 0);
    REQUIRE(output.size() > 4);
    const json reply = json::parse(output.substr(4));
    CHECK(reply["ok"] == true);
    CHECK(reply["result"]["data"] == encoded);
}

TEST_CASE("header protection leaves no copy of the hidden Subject in memory given back") {
    // A Subject long enough to need a block of its own in every copy made of it.
    const std::string subject = "Merger talks with Initech: keep this between us, 17 March";
    const std::string message =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: " + subject +
        "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n";
    needle = subject.data();
    needle_size = subject.size();
    found = 0;
    watching = true;
    {
        mime::Split split = mime::split(message);
        mime::protect_headers(split, mime::Protection::Cipher);
        CHECK(split.outer_headers.find(subject) == std::string::npos);   // hidden outside
        CHECK(split.content_fields.find(subject) != std::string::npos);  // kept inside
    }
    watching = false;
    needle = nullptr;
    CHECK(found == 0);
}
