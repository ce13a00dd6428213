// SPDX-License-Identifier: MIT
// Boost.Process plumbing for the end-to-end tests; poll(2) gives every read a timeout.
#include "e2e/host_process.h"

#include "protocol/envelope.h"
#include "support/frames.h"
#include "util/base64.h"

// Boost 1.74 enables its vfork launcher only for old POSIX levels; glibc has vfork at every level.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/process.hpp>
#include <boost/process/posix.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bp = boost::process;

namespace smime::test {

std::filesystem::path host_binary() { return SMIME_HOST_BINARY; }

std::filesystem::path make_temp_dir(const std::string& tag) {
    std::random_device rd;
    auto dir =
        std::filesystem::temp_directory_path() /
        ("smime-host-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    return dir;
}

std::string frame_bytes(const std::string& body) { return frame(body); }

struct HostProcess::Impl {
    bp::pipe in, out;
    std::filesystem::path err_file;
    bp::child child;
    std::string buffer;
    std::size_t consumed = 0;  // bytes of `buffer` already returned as frames
    std::vector<char> chunk;   // what one read(2) returns
    bool stdin_closed = false;
};

HostProcess::HostProcess(const std::filesystem::path& home, std::vector<std::string> args,
                         std::map<std::string, std::string> env, std::vector<std::string> launcher)
    : impl_(std::make_unique<Impl>()) {
    std::filesystem::create_directories(home);
    if (args.empty()) args = {"chrome-extension://abcdefghijklmnopabcdefghijklmnop/"};
    // The child inherits our environment with these changes. Set them on our own process for the
    // moment of the spawn (the tests start hosts from one thread): Boost 1.74's environment
    // editing reads past the end of its strings.
    env["SMIME_HOST_HOME"] = home.string();
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    for (const auto& [k, v] : env) {
        const char* old = std::getenv(k.c_str());
        saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
        if (v.empty()) ::unsetenv(k.c_str());
        else ::setenv(k.c_str(), v.c_str(), 1);
    }
    impl_->err_file = home / ("stderr-" + std::to_string(std::random_device{}()) + ".log");
    // SMIME_HOST_WRAPPER (e.g. "perf record -g -o host.data") runs the host under a profiler.
    std::string program = host_binary().string();
    if (const char* wrapper = std::getenv("SMIME_HOST_WRAPPER"); wrapper && *wrapper) {
        std::istringstream words(wrapper);
        std::vector<std::string> prefix{std::istream_iterator<std::string>(words),
                                        std::istream_iterator<std::string>()};
        args.insert(args.begin(), program);
        args.insert(args.begin(), prefix.begin() + 1, prefix.end());
        program = bp::search_path(prefix.front()).string();
    }
    if (!launcher.empty()) {
        args.insert(args.begin(), program);
        args.insert(args.begin(), launcher.begin() + 1, launcher.end());
        program = bp::search_path(launcher.front()).string();
    }
    // vfork, as browsers start hosts: a fork would write-protect every page of this process, and
    // the next write to each (the next message buffer) would fault, which timings must not include.
    impl_->child = bp::child(program, bp::args(args), bp::std_in<impl_->in, bp::std_out> impl_->out,
                             bp::std_err > impl_->err_file.string(), bp::posix::use_vfork);
    for (const auto& [k, old] : saved) {
        if (old) ::setenv(k.c_str(), old->c_str(), 1);
        else ::unsetenv(k.c_str());
    }
    // Close our copies of the child's ends so EOF is seen, and keep our ends out of children
    // started later (otherwise this child would never see EOF while they live).
    ::close(impl_->in.native_source());
    ::close(impl_->out.native_sink());
    ::fcntl(impl_->in.native_sink(), F_SETFD, FD_CLOEXEC);
    ::fcntl(impl_->out.native_source(), F_SETFD, FD_CLOEXEC);
}

HostProcess::~HostProcess() {
    if (!impl_) return;
    close_stdin();
    if (!wait_exit(std::chrono::seconds(5))) kill();
}

void HostProcess::write_raw(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n =
            ::write(impl_->in.native_sink(), bytes.data() + done, bytes.size() - done);
        if (n <= 0) throw std::runtime_error("write to host failed");
        done += static_cast<std::size_t>(n);
    }
}

void HostProcess::send(const json& request) { write_raw(frame(request.dump())); }
void HostProcess::send_text(const std::string& body) { write_raw(frame(body)); }

std::optional<std::string> HostProcess::read_frame(std::chrono::milliseconds timeout) {
    std::string body;
    if (!read_frame_into(body, timeout)) return std::nullopt;
    return body;
}

bool HostProcess::read_frame_into(std::string& body, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Frames are taken from an offset into the buffer, which is compacted only now and then:
        // erasing each frame from the front would move every byte behind it, many times over.
        auto& buf = impl_->buffer;
        auto& pos = impl_->consumed;
        if (buf.size() - pos >= 4) {
            std::uint32_t n = 0;
            std::memcpy(&n, buf.data() + pos, 4);
            if (buf.size() - pos >= 4 + static_cast<std::size_t>(n)) {
                body.assign(buf, pos + 4, n);
                pos += 4 + static_cast<std::size_t>(n);
                if (pos == buf.size()) {
                    buf.clear();
                    pos = 0;
                } else if (pos > (8u << 20)) {
                    buf.erase(0, pos);
                    pos = 0;
                }
                return true;
            }
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{impl_->out.native_source(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
        impl_->chunk.resize(1u << 20);  // once; a pipe gives at most its capacity per read
        const ssize_t n =
            ::read(impl_->out.native_source(), impl_->chunk.data(), impl_->chunk.size());
        if (n <= 0) return false;
        buf.append(impl_->chunk.data(), static_cast<std::size_t>(n));
    }
}

json HostProcess::read_json(std::chrono::milliseconds timeout) {
    auto body = read_frame(timeout);
    if (!body)
        throw std::runtime_error("no reply from host (timeout or EOF); stderr: " + stderr_text());
    return json::parse(*body);
}

json HostProcess::request(const json& req) {
    send(req);
    return read_json();
}

json HostProcess::call_with_payload(json request, const std::string& arg,
                                    const std::string& payload, std::size_t chunk_raw,
                                    std::string* reply_payload, const std::string& reply_field) {
    return exchange(payload_frames(std::move(request), arg, payload, chunk_raw), reply_payload,
                    reply_field);
}

std::string HostProcess::payload_frames(json request, const std::string& arg,
                                        const std::string& payload, std::size_t chunk_raw) {
    const std::size_t chunks = payload.empty() ? 1 : (payload.size() + chunk_raw - 1) / chunk_raw;
    request["args"][arg] = {{"chunks", chunks}, {"size", payload.size()}};
    std::string out = frame(request.dump());
    out.reserve(out.size() + chunks * 64 + (payload.size() + 2) / 3 * 4);
    const std::string id = request["id"].dump();
    for (std::size_t i = 0; i < chunks; ++i) {
        const std::string_view raw =
            std::string_view(payload).substr(std::min(payload.size(), i * chunk_raw), chunk_raw);
        const std::string head =
            "{\"id\":" + id + ",\"chunk\":" + std::to_string(i) + ",\"data\":\"";
        const std::uint32_t length =
            static_cast<std::uint32_t>(head.size() + (raw.size() + 2) / 3 * 4 + 2);
        out.append(reinterpret_cast<const char*>(&length), 4);
        out += head;
        base64::encode_append(raw, out);
        out += "\"}";
    }
    return out;
}

json HostProcess::exchange(const std::string& frames, std::string* reply_payload,
                           const std::string& reply_field) {
    write_raw(frames);
    json head = read_json();
    if (reply_payload && head.value("ok", false)) {
        reply_payload->clear();
        const json& ref = head["result"][reply_field];
        if (ref.is_string()) {
            base64::decode_append(ref.get<std::string>(), *reply_payload);
        } else {
            const auto n = ref["chunks"].get<std::size_t>();
            reply_payload->reserve(ref.value("size", std::size_t{0}));
            std::string body;
            for (std::size_t i = 0; i < n; ++i) {
                if (!read_frame_into(body)) throw std::runtime_error("missing reply chunk");
                // The chunk scanner stands in for a browser's native JSON.parse, so that the
                // client's own parsing does not dominate timings of large payloads.
                auto c = envelope::parse_chunk_fast(body);
                if (!c || c->index != i)
                    throw std::runtime_error("reply chunk malformed or out of order");
                if (!base64::decode_append(c->data, *reply_payload))
                    throw std::runtime_error("reply chunk not base64");
            }
        }
    }
    return head;
}

void HostProcess::close_stdin() {
    if (!impl_->stdin_closed) {
        ::close(impl_->in.native_sink());
        impl_->stdin_closed = true;
    }
}

std::optional<int> HostProcess::wait_exit(std::chrono::milliseconds timeout) {
    // Polls instead of child.wait_for, which in Boost 1.74 can sleep out its whole timeout.
    std::error_code ec;
    if (!impl_->child.valid()) return impl_->child.exit_code();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (impl_->child.running(ec)) {
        if (ec || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return impl_->child.exit_code();
}

bool HostProcess::running() {
    std::error_code ec;
    return impl_->child.running(ec);
}

void HostProcess::kill() {
    std::error_code ec;
    impl_->child.terminate(ec);
}

std::string HostProcess::stderr_text() const {
    std::ifstream in(impl_->err_file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int HostProcess::pid() const { return impl_->child.id(); }

}  // namespace smime::test
