// SPDX-License-Identifier: MIT
// Benchmark (prints figures, asserts nothing): the host against `openssl cms`, like for like. Both
// read the same message from a pipe that a client thread writes and write their answer to a pipe
// the client drains; every run is a fresh process; host requests are encoded before the clock
// starts and replies are collected as raw frames, decoded only after it stops.
#include "bench/bench_util.h"
#include "e2e/host_process.h"
#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "util/base64.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

using namespace smime;
using namespace smime::test;
using namespace smime::bench;

namespace {

// Starts programs with the given pipe ends as stdin and stdout and reports how they ended. It is
// forked before the benchmark allocates its messages: a child of a large process counts that
// process's pages in its peak (Linux keeps the pre-exec high-water mark in ru_maxrss).
class Spawner {
public:
    struct Exit {
        int status = 0;
        long peak_kib = 0;
    };

    Spawner() {
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sock_) != 0)
            throw std::runtime_error("socketpair failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::close(sock_[0]);
            serve(sock_[1]);
        }
        ::close(sock_[1]);
    }
    ~Spawner() {
        ::close(sock_[0]);
        ::waitpid(pid_, nullptr, 0);
    }

    // Starts `args` with `in` as stdin and `out` as stdout (both closed here once passed on).
    void start(const std::vector<std::string>& args, int in, int out) {
        std::string request;
        for (const auto& a : args) request.append(a).push_back('\0');
        const auto size = static_cast<std::uint32_t>(request.size());
        char control[CMSG_SPACE(2 * sizeof(int))] = {};
        iovec iov{const_cast<std::uint32_t*>(&size), sizeof size};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(2 * sizeof(int));
        const int fds[2] = {in, out};
        std::memcpy(CMSG_DATA(c), fds, sizeof fds);
        if (::sendmsg(sock_[0], &msg, 0) != static_cast<ssize_t>(sizeof size) ||
            !write_all(sock_[0], request.data(), request.size()))
            throw std::runtime_error("spawner is gone");
        ::close(in);
        ::close(out);
    }

    // Waits for the program started last to exit.
    Exit wait() {
        Exit e;
        if (!read_all(sock_[0], &e, sizeof e)) throw std::runtime_error("spawner is gone");
        return e;
    }

private:
    [[noreturn]] static void serve(int sock) {
        for (;;) {
            std::uint32_t size = 0;
            char control[CMSG_SPACE(2 * sizeof(int))] = {};
            iovec iov{&size, sizeof size};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            if (::recvmsg(sock, &msg, MSG_WAITALL) != static_cast<ssize_t>(sizeof size)) _exit(0);
            int fds[2];
            std::memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fds);
            std::string request(size, '\0');
            if (!read_all(sock, request.data(), size)) _exit(0);
            std::vector<char*> argv;
            for (std::size_t at = 0; at < request.size(); at = request.find('\0', at) + 1)
                argv.push_back(request.data() + at);
            argv.push_back(nullptr);
            const pid_t child = ::fork();
            if (child == 0) {
                ::dup2(fds[0], 0);
                ::dup2(fds[1], 1);
                ::close(fds[0]);
                ::close(fds[1]);
                ::close(sock);
                std::signal(SIGPIPE, SIG_DFL);
                if (!std::freopen("/dev/null", "w", stderr)) _exit(126);
                ::execvp(argv[0], argv.data());
                _exit(127);
            }
            ::close(fds[0]);
            ::close(fds[1]);
            Exit e;
            struct rusage usage {};
            ::wait4(child, &e.status, 0, &usage);
            e.peak_kib = usage.ru_maxrss;
            if (!write_all(sock, &e, sizeof e)) _exit(0);
        }
    }

    template <typename Io, typename Byte>
    static bool move_all(Io io, int fd, Byte* p, std::size_t n) {
        while (n > 0) {
            const ssize_t k = io(fd, p, n);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return false;
            p += k;
            n -= static_cast<std::size_t>(k);
        }
        return true;
    }

public:
    static bool write_all(int fd, const void* data, std::size_t n) {
        return move_all(::write, fd, static_cast<const char*>(data), n);
    }
    static bool read_all(int fd, void* data, std::size_t n) {
        return move_all(::read, fd, static_cast<char*>(data), n);
    }

private:
    int sock_[2]{};
    pid_t pid_ = -1;
};

// A thread that writes one buffer to a pipe while the main thread reads the other pipe, as a
// browser's I/O thread does. It exists before the clock starts.
class PipeWriter {
public:
    PipeWriter() : thread_([this] { loop(); }) {}
    ~PipeWriter() {
        {
            std::lock_guard lock(mutex_);
            quit_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    // Writes `data` to `fd`, then closes `fd` if `close_after`.
    void post(int fd, std::string_view data, bool close_after) {
        {
            std::lock_guard lock(mutex_);
            fd_ = fd;
            data_ = data;
            close_ = close_after;
            busy_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !busy_; });
    }

private:
    void loop() {
        std::unique_lock lock(mutex_);
        for (;;) {
            cv_.wait(lock, [this] { return busy_ || quit_; });
            if (quit_) return;
            lock.unlock();
            Spawner::write_all(fd_, data_.data(),
                               data_.size());  // a reader that quit early is its problem
            if (close_) ::close(fd_);
            lock.lock();
            busy_ = false;
            cv_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    int fd_ = -1;
    std::string_view data_;
    bool close_ = false, busy_ = false, quit_ = false;
    std::thread thread_;
};

// Where replies land: allocated and touched once, as a browser that has been running a while.
struct Sink {
    std::vector<char> bytes;
    std::size_t size = 0;
    void prepare(std::size_t capacity) {
        if (bytes.size() < capacity) {
            bytes.assign(capacity, '\1');
        }
        size = 0;
    }
    // One read(2); false at EOF or on error.
    bool read_from(int fd) {
        if (size == bytes.size()) bytes.resize(bytes.size() * 2 + 65536, '\1');
        const ssize_t n = ::read(fd, bytes.data() + size, bytes.size() - size);
        if (n < 0 && errno == EINTR) return true;
        if (n <= 0) return false;
        size += static_cast<std::size_t>(n);
        return true;
    }
    std::string_view view() const { return {bytes.data(), size}; }
};

std::uint32_t frame_length(const char* p) {
    std::uint32_t n;
    std::memcpy(&n, p, 4);
    return n;
}

// Reads frames until a whole reply is in: the head frame and, if it announces `{"chunks":N`
// for its payload, N chunk frames. Only the first bytes of the head are looked at: the payload
// itself is not parsed, decoded or copied.
bool read_reply(int fd, Sink& sink) {
    std::size_t at = 0, frames = 0, wanted = 1;
    for (;;) {
        while (frames < wanted && sink.size - at >= 4 &&
               sink.size - at - 4 >= frame_length(sink.bytes.data() + at)) {
            const std::uint32_t n = frame_length(sink.bytes.data() + at);
            if (frames == 0) {
                const std::string_view head(sink.bytes.data() + at + 4,
                                            std::min<std::uint32_t>(n, 256));
                if (const auto c = head.find("{\"chunks\":"); c != std::string_view::npos)
                    wanted += std::strtoul(head.data() + c + 10, nullptr, 10);
            }
            at += 4 + n;
            ++frames;
        }
        if (frames == wanted) return true;
        if (!sink.read_from(fd)) return false;
    }
}

// The frames of one request carrying `payload` in `arg`: inline up to 768,000 bytes, otherwise a
// chunk reference and 768,000-byte chunks, as docs/protocol.md tells callers to send it.
// `more_args`: further members of args, each followed by a comma (`"sign":true,`).
std::string request_frames(int id, const std::string& op, const std::string& arg,
                           std::string_view payload, const std::string& more_args = "") {
    constexpr std::size_t kChunk = 768000;
    auto frame = [](std::string& out, std::string_view body) {
        const auto n = static_cast<std::uint32_t>(body.size());
        out.append(reinterpret_cast<const char*>(&n), 4);
        out.append(body);
    };
    std::string out, body;
    const std::string head = "{\"id\":" + std::to_string(id) + ",\"op\":\"" + op + "\",\"args\":{" +
                             more_args + "\"" + arg + "\":";
    if (payload.size() <= kChunk) {
        body = head + "\"";
        base64::encode_append(payload, body);
        body += "\"}}";
        frame(out, body);
        return out;
    }
    const std::size_t chunks = (payload.size() + kChunk - 1) / kChunk;
    frame(out, head + "{\"chunks\":" + std::to_string(chunks) +
                   ",\"size\":" + std::to_string(payload.size()) + "}}}");
    for (std::size_t i = 0; i < chunks; ++i) {
        body = "{\"id\":" + std::to_string(id) + ",\"chunk\":" + std::to_string(i) + ",\"data\":\"";
        base64::encode_append(payload.substr(i * kChunk, kChunk), body);
        body += "\"}";
        frame(out, body);
    }
    return out;
}

struct Decoded {
    json head;
    std::string payload;
};

// After the clock: the reply's JSON and its payload (inline or from the chunk frames).
Decoded decode_reply(std::string_view raw, const std::string& field) {
    Decoded d;
    std::size_t at = 0;
    auto next = [&]() {
        const std::uint32_t n = frame_length(raw.data() + at);
        const std::string_view body = raw.substr(at + 4, n);
        at += 4 + n;
        return body;
    };
    const std::string_view head = next();
    d.head = json::parse(head.begin(), head.end());
    if (!d.head.value("ok", false)) return d;
    const json& value = d.head["result"][field];
    if (value.is_string()) {
        base64::decode_append(value.get<std::string>(), d.payload);
    } else if (value.is_object()) {
        for (std::size_t i = 0; i < value["chunks"].get<std::size_t>(); ++i) {
            const std::string_view body = next();
            const auto start = body.find("\"data\":\"") + 8;
            base64::decode_append(body.substr(start, body.rfind('"') - start), d.payload);
        }
    }
    return d;
}

struct Run {
    double ms = 0;        // to the end of the output
    double reply_ms = 0;  // host: to the last byte of the reply
    double exit_ms = 0;   // to the end of the process (wait4)
    long peak_kib = 0;
    int status = 0;
};

struct Bench {
    Spawner spawner;
    PipeWriter writer;
    Sink sink;
    std::vector<std::string> host_command;

    // One request in a fresh host process, timed as openssl is: the request is written and stdin
    // closed, and the clock stops at the end of the host's output (the host ends it once stdin
    // has ended and every reply is out). The last byte of the reply is noted on the way.
    Run host(const std::string& frames) {
        int in[2], out[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
        sink.size = 0;
        const auto t0 = Clock::now();
        spawner.start(host_command, in[0], out[1]);
        writer.post(in[1], frames, true);
        const bool complete = read_reply(out[0], sink);
        Run r;
        r.reply_ms = bench::ms(Clock::now() - t0);
        while (sink.read_from(out[0])) {
        }
        r.ms = bench::ms(Clock::now() - t0);
        writer.wait();
        ::close(out[0]);
        const Spawner::Exit e = spawner.wait();
        r.exit_ms = bench::ms(Clock::now() - t0);
        r.peak_kib = e.peak_kib;
        r.status = complete ? e.status : -1;
        return r;
    }

    // One openssl command: from the spawn to the end of its output.
    Run openssl(const std::vector<std::string>& args, std::string_view input) {
        int in[2], out[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
        sink.size = 0;
        const auto t0 = Clock::now();
        spawner.start(args, in[0], out[1]);
        writer.post(in[1], input, true);
        while (sink.read_from(out[0])) {
        }
        Run r;
        r.ms = bench::ms(Clock::now() - t0);
        writer.wait();
        ::close(out[0]);
        const Spawner::Exit e = spawner.wait();
        r.exit_ms = bench::ms(Clock::now() - t0);
        r.peak_kib = e.peak_kib;
        r.status = e.status;
        return r;
    }
};

double median_of(std::vector<double> v) { return median(std::move(v)); }

long median_peak(const std::vector<Run>& runs) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(static_cast<double>(r.peak_kib));
    return static_cast<long>(median(v));
}

std::string first_line(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) {
        if (!out.empty()) out += ' ';
        out += a;
    }
    return out;
}

std::string file_line(const char* path, const char* key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!key || line.rfind(key, 0) == 0) return key ? line.substr(line.find(':') + 2) : line;
    return "?";
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

bool wanted(const std::vector<std::string>& list, const std::string& item) {
    return list.empty() || std::find(list.begin(), list.end(), item) != list.end();
}

struct Row {
    std::string size, op, input;
    double host_ms = 0, openssl_ms = 0;
    long host_peak = 0, openssl_peak = 0;
    std::size_t message = 0;
};

// The goals of the performance work, each with the figures measured here and whether they meet it.
void print_targets(const std::vector<Row>& rows, const std::map<std::string, double>& warm_ms,
                   long startup_peak) {
    std::printf("\ntargets (met or not at this run's load; medians):\n");
    auto verdict = [](bool measured, bool met) {
        return !measured ? "not measured" : met ? "met" : "NOT MET";
    };
    auto ratio_of = [](const Row& r) { return r.openssl_ms / r.host_ms; };

    // Small messages in a fresh process: every operation at least as fast as openssl.
    {
        bool measured = false, met = true;
        std::string worst;
        double lowest = 1e9;
        for (const auto& r : rows) {
            if (r.openssl_ms == 0 || r.message > (2u << 20)) continue;
            measured = true;
            met = met && ratio_of(r) >= 1.0;
            if (ratio_of(r) < lowest) {
                lowest = ratio_of(r);
                worst = r.size + " " + r.op + " (" + r.input + " input)";
            }
        }
        std::printf("  10KiB and 1MiB, fresh process, every operation >= 1.00x: %s",
                    verdict(measured, met));
        if (measured) std::printf("; lowest %.2fx, %s", lowest, worst.c_str());
        std::printf("\n");
    }
    // Warm port: small verify and decrypt under a millisecond.
    {
        const auto v = warm_ms.find("message.verify"), d = warm_ms.find("message.decrypt");
        const bool measured = v != warm_ms.end() && d != warm_ms.end();
        std::printf("  warm port, 10KiB verify and decrypt < 1 ms: %s",
                    verdict(measured, measured && v->second < 1.0 && d->second < 1.0));
        if (v != warm_ms.end()) std::printf("; verify %.3f ms", v->second);
        if (d != warm_ms.end()) std::printf("; decrypt %.3f ms", d->second);
        std::printf("\n");
    }
    // Large messages: verify, encrypt and decrypt 2.5x, sign 1.2x.
    {
        bool measured = false, met = true;
        std::string figures;
        for (const auto& r : rows) {
            // The goal is set for the four single operations; signing and encrypting together is
            // reported with them but not judged here.
            if (r.openssl_ms == 0 || r.message < (20u << 20) || r.op == "sign+encrypt") continue;
            measured = true;
            const double goal = r.op == "sign" ? 1.2 : 2.5;
            met = met && ratio_of(r) >= goal;
            char one[96];
            std::snprintf(one, sizeof one, "%s%s%s %.2fx", figures.empty() ? "" : ", ",
                          r.op.c_str(), r.input == "message" ? "" : (" (" + r.input + ")").c_str(),
                          ratio_of(r));
            figures += one;
        }
        std::printf("  25MiB, verify/encrypt/decrypt >= 2.50x, sign >= 1.20x: %s%s%s\n",
                    verdict(measured, met), figures.empty() ? "" : "; ", figures.c_str());
    }
    // Peak memory under twice the message. Below some MiB the process's own start-up memory (the
    // hello peak) is most of the peak, so the goal is judged on messages of 10 MiB and more.
    {
        bool measured = false, met = true;
        double worst = 0, worst_above = 0;
        std::string which;
        for (const auto& r : rows) {
            if (r.message < (10u << 20) || r.op == "echo") continue;
            measured = true;
            const double m = static_cast<double>(r.message) / 1024.0;
            const double over = static_cast<double>(r.host_peak) / m;
            met = met && over < 2.0;
            if (over > worst) {
                worst = over;
                worst_above = static_cast<double>(r.host_peak - startup_peak) / m;
                which = r.size + " " + r.op + " (" + r.input + " input)";
            }
        }
        std::printf("  peak memory < 2x the message (messages of 10MiB and more): %s",
                    verdict(measured, met));
        if (measured)
            std::printf("; highest %.2fx (%.2fx above the %ld KiB start-up peak), %s", worst,
                        worst_above, startup_peak, which.c_str());
        std::printf("\n");
    }
}

// `count` self-signed CA certificates of strangers' CAs, in PEM: what a store gathers over months
// of verified mail (every validated issuer of every correspondent is kept). None is on the
// benchmark's paths, so a verify that reads only what its path needs does not notice them.
std::string unrelated_cas(int count) {
    std::string pem;
    for (int i = 0; i < count; ++i) {
        ossl::PKeyPtr key(EVP_EC_gen("P-256"));
        ossl::X509Ptr cert(X509_new());
        if (!key || !cert) throw std::runtime_error("cannot make a CA certificate");
        X509_set_version(cert.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), i + 1);
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650L * 86400);
        X509_set_pubkey(cert.get(), key.get());
        const std::string cn = "Unrelated CA " + std::to_string(i + 1);
        X509_NAME* name = X509_get_subject_name(cert.get());
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
        X509_set_issuer_name(cert.get(), name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
        if (X509_EXTENSION* ext =
                X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE")) {
            X509_add_ext(cert.get(), ext, -1);
            X509_EXTENSION_free(ext);
        }
        if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
            throw std::runtime_error("cannot sign a CA certificate");
        pem += certinfo::pem(cert.get());
    }
    return pem;
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "bench_compare: %s\n", what.c_str());
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 9, warm = 101, starts = 21, stored_cas = 0;
    std::string pki = ENGINE_TEST_PKI;
    std::string host =
        host_binary().string();  // --host: another build of the host, to compare builds
    std::vector<std::string> sizes = {"10KiB", "1MiB", "25MiB"}, ops;
    std::string save;  // --save DIR: the store, every case's inputs and commands, kept to rerun
    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail("missing value after " + a);
            return argv[++i];
        };
        if (a == "--runs") runs = std::stoi(value());
        else if (a == "--sizes") sizes = split(value());
        else if (a == "--ops") ops = split(value());
        else if (a == "--warm") warm = std::stoi(value());
        else if (a == "--starts") starts = std::stoi(value());
        else if (a == "--pki") pki = value();
        else if (a == "--host") host = value();
        else if (a == "--save") save = value();
        else if (a == "--stored-cas") stored_cas = std::stoi(value());
        else {
            std::printf(
                "usage: bench_compare [--sizes 10KiB,1MiB,25MiB] [--ops "
                "sign,verify,encrypt,decrypt,sign+encrypt,echo]\n"
                "                     [--runs 9] [--warm 101] [--starts 21] [--pki DIR] [--host "
                "PATH]\n"
                "                     [--save DIR]  (keeps the store and each case's inputs and "
                "commands in DIR,\n"
                "                                    to repeat a case under perf or strace)\n"
                "                     [--stored-cas N]  (N unrelated CA certificates in the store, "
                "as months\n"
                "                                    of harvested mail leave there)\n");
            return a == "--help" ? 0 : 2;
        }
        command += " " + a;
        if (a != "--help") command += " " + std::string(argv[i]);
    }
    const std::map<std::string, std::size_t> known = {{"10KiB", 10u << 10},
                                                      {"100KiB", 100u << 10},
                                                      {"1MiB", 1u << 20},
                                                      {"10MiB", 10u << 20},
                                                      {"25MiB", 25u << 20}};
    for (const auto& s : sizes)
        if (!known.count(s)) fail("unknown size " + s + " (10KiB, 100KiB, 1MiB, 10MiB, 25MiB)");

    const auto work = make_temp_dir("bench-compare");
    const auto home = save.empty() ? work / "home" : std::filesystem::absolute(save) / "home";
    if (!save.empty() && std::filesystem::exists(save) && !std::filesystem::is_empty(save))
        fail("--save " + save + ": give a new or empty folder");
    std::filesystem::create_directories(home);
    ::setenv("SMIME_HOST_HOME", home.c_str(), 1);  // inherited by every host the spawner starts
    const std::string load_before = file_line("/proc/loadavg", nullptr);
    Bench bench;                    // the spawner forks here, before any message exists
    std::signal(SIGPIPE, SIG_IGN);  // a program that fails early closes its stdin under the writer
    bench.host_command = {host, "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"};

    const std::string alice = pki + "/alice.pem", key = pki + "/alice.key",
                      root = pki + "/root.pem", intermediate = pki + "/intermediate.pem";
    {
        engine::Identity id;
        id.certificate = certinfo::parse(read_file(alice));
        const std::string key_pem = read_file(key);
        auto bio = ossl::memory_bio(key_pem);
        id.private_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        id.chain.push_back(certinfo::parse(read_file(intermediate)));
        const std::string p12 = pkcs12::write(id, SecureString("bench"), "alice");
        HostProcess setup(home);
        const json a =
            setup.request({{"id", 1},
                           {"op", "identities.import"},
                           {"args", {{"pkcs12", base64::encode(p12)}, {"password", "bench"}}}});
        const json b =
            setup.request({{"id", 2},
                           {"op", "certificates.import"},
                           {"args", {{"certificate", read_file(root)}, {"trust_anchor", true}}}});
        if (a.value("ok", false) != true || b.value("ok", false) != true)
            fail("setup failed: " + a.dump() + " " + b.dump());
        if (stored_cas > 0) {
            const json c = setup.request({{"id", 3},
                                          {"op", "certificates.import"},
                                          {"args", {{"certificate", unrelated_cas(stored_cas)}}}});
            if (c.value("ok", false) != true) fail("setup failed: " + c.dump().substr(0, 400));
        }
    }

    utsname uts{};
    ::uname(&uts);
    std::printf("bench_compare: smime-host against openssl cms, like for like\n");
    std::printf("command:  %s\n", command.c_str());
    std::printf("machine:  %s, %u cores, %s %s\n", file_line("/proc/cpuinfo", "model name").c_str(),
                std::thread::hardware_concurrency(), uts.sysname, uts.release);
    std::printf("load:     %s (1, 5, 15 min averages at start; an idle machine shows about 0)\n",
                load_before.c_str());
    bench.sink.prepare(1 << 20);
    bench.openssl({"openssl", "version"}, "");
    std::string openssl_version(bench.sink.view());
    while (!openssl_version.empty() && openssl_version.back() == '\n') openssl_version.pop_back();
    std::printf("openssl:  %s; the host links %s\n", openssl_version.c_str(),
                OpenSSL_version(OPENSSL_VERSION));
    std::printf(
        "method:   every run a fresh process (host and openssl alike), started by a small spawner; "
        "the\n"
        "          message goes in through a pipe written by a client thread, the answer comes "
        "back through a\n"
        "          pipe the client drains into memory touched beforehand. Host requests are framed "
        "and base64\n"
        "          encoded before the clock starts (inline up to 768,000 bytes, else 768,000-byte "
        "chunks);\n"
        "          stdin is closed after the request, and both sides' time ends at the end of "
        "their "
        "output (the\n"
        "          host's reply frames are counted, not decoded; \"reply ms\" is the host's last "
        "reply byte;\n"
        "          \"to exit\" is the ratio with both clocks stopped when the process has ended). "
        "Runs alternate host, openssl, host, ...; medians of %d "
        "runs;\n"
        "          ratio = openssl time / host time (above 1: the host is faster). peak = "
        "ru_maxrss of the\n"
        "          process (wait4).\n",
        runs);
    std::printf("message:  multipart/mixed, a text part and a base64 attachment, CRLF line ends\n");
    std::printf(
        "store:    the signer's identity (alice, with her intermediate), the test root as trust "
        "anchor%s\n",
        stored_cas > 0
            ? (", and " + std::to_string(stored_cas) + " unrelated CA certificates (--stored-cas)")
                  .c_str()
            : "");
    {
        int in[2], out[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0) fail("pipe failed");
        bench.spawner.start({"true"}, in[0], out[1]);
        ::close(in[1]);
        ::close(out[0]);
        std::printf("floor:    a spawned /bin/true peaks at %ld KiB (part of every peak below)\n",
                    bench.spawner.wait().peak_kib);
    }

    // Start-up: spawn to the `hello` reply.
    long startup_peak = 0;
    {
        const std::string hello = [] {
            const std::string body = R"({"id":1,"op":"hello"})";
            const auto n = static_cast<std::uint32_t>(body.size());
            return std::string(reinterpret_cast<const char*>(&n), 4) + body;
        }();
        bench.sink.prepare(1 << 20);
        std::vector<Run> t;
        for (int i = 0; i < starts; ++i) t.push_back(bench.host(hello));
        std::vector<double> ms, reply;
        for (const auto& r : t) {
            ms.push_back(r.ms);
            reply.push_back(r.reply_ms);
        }
        startup_peak = median_peak(t);
        std::printf(
            "start-up: spawn to hello reply %.2f ms, to the end of output %.2f ms (medians of %d), "
            "peak %ld KiB\n\n",
            median_of(reply), median_of(ms), starts, startup_peak);
    }

    const std::vector<std::string> sign_cmd = {"openssl", "cms", "-sign",     "-signer",   alice,
                                               "-inkey",  key,   "-certfile", intermediate};
    const std::vector<std::string> verify_cmd = {"openssl", "cms", "-verify", "-CAfile", root};
    // The host's choice for a recipient without advertised capabilities: AES-256-GCM
    // (AuthEnvelopedData) with RSAES-OAEP over SHA-256.
    const std::vector<std::string> encrypt_cmd = {"openssl",  "cms",
                                                  "-encrypt", "-aes-256-gcm",
                                                  "-recip",   alice,
                                                  "-keyopt",  "rsa_padding_mode:oaep",
                                                  "-keyopt",  "rsa_oaep_md:sha256",
                                                  "-keyopt",  "rsa_mgf1_md:sha256"};
    const std::vector<std::string> decrypt_cmd = {"openssl", "cms",    "-decrypt", "-recip",
                                                  alice,     "-inkey", key};
    // Signing and encrypting together: openssl in two processes joined by a pipe, as a user of
    // `openssl cms` would run it.
    auto joined = [](const std::vector<std::string>& cmd) {
        std::string out;
        for (const auto& word : cmd) out += (out.empty() ? "" : " ") + word;
        return out;
    };
    const std::vector<std::string> sign_encrypt_cmd = {
        "sh", "-c", joined(sign_cmd) + " | " + joined(encrypt_cmd)};
    // Paths under the current folder are printed relative to it, so the output can be quoted.
    const std::string here = std::filesystem::current_path().string() + "/";
    auto shown = [&here](std::string line) {
        for (std::size_t at = 0; (at = line.find(here, at)) != std::string::npos;)
            line.erase(at, here.size());
        return line;
    };
    std::printf("openssl commands (stdin and stdout are pipes):\n  %s\n  %s\n  %s\n  %s\n  %s\n\n",
                shown(first_line(sign_cmd)).c_str(), shown(first_line(verify_cmd)).c_str(),
                shown(first_line(encrypt_cmd)).c_str(), shown(first_line(decrypt_cmd)).c_str(),
                shown(sign_encrypt_cmd[2]).c_str());

    std::vector<Row> rows;
    std::printf("%-6s %-12s %-9s %8s %8s %10s %7s %7s  %-9s %10s %10s %9s  %s\n", "size", "op",
                "input", "host ms", "reply ms", "openssl ms", "ratio", "to exit", "verdict",
                "host peak", "ossl peak", "peak/msg", "per-run ratios");
    for (const auto& label : sizes) {
        const std::size_t size = known.at(label);
        const std::string message = make_message(size);
        bench.sink.prepare(message.size() * 3 + (4u << 20));

        // The inputs each side's verify and decrypt read: the host's own output and openssl's.
        auto host_output = [&](const std::string& op) {
            bench.host(request_frames(1, op, "mime", message));
            const Decoded d = decode_reply(bench.sink.view(), "mime");
            if (!d.head.value("ok", false)) fail(op + " failed: " + d.head.dump().substr(0, 400));
            return d.payload;
        };
        auto openssl_output = [&](const std::vector<std::string>& cmd) {
            if (bench.openssl(cmd, message).status != 0) fail(first_line(cmd) + " failed");
            return std::string(bench.sink.view());
        };
        const std::string host_signed = host_output("message.sign"),
                          host_encrypted = host_output("message.encrypt");
        const std::string openssl_signed = openssl_output(sign_cmd),
                          openssl_encrypted = openssl_output(encrypt_cmd);

        struct Case {
            std::string op, input_name;
            const std::string* input;
            std::vector<std::string>
                openssl;  // empty: the host alone (echo, the transport's own cost)
        };
        const std::vector<Case> cases = {
            {"sign", "message", &message, sign_cmd},
            {"verify", "host's", &host_signed, verify_cmd},
            {"verify", "openssl's", &openssl_signed, verify_cmd},
            {"encrypt", "message", &message, encrypt_cmd},
            {"decrypt", "host's", &host_encrypted, decrypt_cmd},
            {"decrypt", "openssl's", &openssl_encrypted, decrypt_cmd},
            {"sign+encrypt", "message", &message, sign_encrypt_cmd},
            {"echo", "message", &message, {}},
        };
        for (const Case& c : cases) {
            if (!wanted(ops, c.op)) continue;
            const bool echo = c.op == "echo";
            const bool both = c.op == "sign+encrypt";
            const std::string frames =
                request_frames(1,
                               echo   ? "echo"
                               : both ? "message.encrypt"
                                      : "message." + c.op,
                               echo ? "data" : "mime", *c.input, both ? "\"sign\":true," : "");
            if (!save.empty()) {
                std::string name = label + "-" + c.op + "-" + c.input_name;
                std::replace(name.begin(), name.end(), '\'', '_');
                std::replace(name.begin(), name.end(), '+', '_');
                write_file(save + "/" + name + ".frames", frames);
                write_file(save + "/" + name + ".in", *c.input);
                std::string lines = "SMIME_HOST_HOME=" + home.string() + " " +
                                    first_line(bench.host_command) + " < " + name + ".frames\n";
                if (!c.openssl.empty())
                    lines += (c.openssl[0] == "sh" ? "sh -c '" + c.openssl[2] + "'"
                                                   : first_line(c.openssl)) +
                             " < " + name + ".in\n";
                std::ofstream(save + "/commands.txt", std::ios::app) << lines;
            }
            std::vector<Run> host_runs, openssl_runs;
            std::string verdict = "-";
            for (int r = 0; r < runs; ++r) {
                host_runs.push_back(bench.host(frames));
                const Decoded d = decode_reply(bench.sink.view(), echo ? "data" : "mime");
                if (host_runs.back().status != 0 || !d.head.value("ok", false))
                    fail(c.op + " on the " + c.input_name +
                         " input failed: " + d.head.dump().substr(0, 400));
                if (echo && d.payload != *c.input) fail("echo returned different bytes");
                if (r == 0 && (c.op == "verify" || c.op == "decrypt")) {
                    const json& sigs = d.head["result"]["status"]["signatures"];
                    verdict = sigs.empty() ? d.head["result"]["status"]["level"].get<std::string>()
                                           : sigs[0]["verdict"].get<std::string>();
                }
                if (c.openssl.empty()) continue;
                openssl_runs.push_back(bench.openssl(c.openssl, *c.input));
                if (openssl_runs.back().status != 0)
                    fail(first_line(c.openssl) + " failed on the " + c.input_name + " input");
            }
            Row row{label, c.op, c.input_name, 0, 0, median_peak(host_runs), 0, message.size()};
            std::vector<double> h, reply, o, h_exit, o_exit;
            std::string ratios;
            for (std::size_t i = 0; i < host_runs.size(); ++i) {
                h.push_back(host_runs[i].ms);
                reply.push_back(host_runs[i].reply_ms);
                h_exit.push_back(host_runs[i].exit_ms);
                if (openssl_runs.empty()) continue;
                o.push_back(openssl_runs[i].ms);
                o_exit.push_back(openssl_runs[i].exit_ms);
                char one[16];
                std::snprintf(one, sizeof one, "%s%.2f", ratios.empty() ? "" : " ",
                              openssl_runs[i].ms / host_runs[i].ms);
                ratios += one;
            }
            row.host_ms = median_of(h);
            if (!o.empty()) {
                row.openssl_ms = median_of(o);
                row.openssl_peak = median_peak(openssl_runs);
            }
            rows.push_back(row);
            char ratio[16] = "-", exit_ratio[16] = "-", openssl_ms[16] = "-",
                 openssl_peak[16] = "-";
            if (!o.empty()) {
                std::snprintf(ratio, sizeof ratio, "%.2fx", row.openssl_ms / row.host_ms);
                std::snprintf(exit_ratio, sizeof exit_ratio, "%.2fx",
                              median_of(o_exit) / median_of(h_exit));
                std::snprintf(openssl_ms, sizeof openssl_ms, "%.2f", row.openssl_ms);
                std::snprintf(openssl_peak, sizeof openssl_peak, "%ld KiB", row.openssl_peak);
            }
            std::printf(
                "%-6s %-12s %-9s %8.2f %8.2f %10s %7s %7s  %-9s %6ld KiB %10s %8.2fx  %s\n",
                label.c_str(), c.op.c_str(), c.input_name.c_str(), row.host_ms, median_of(reply),
                openssl_ms, ratio, exit_ratio, verdict.c_str(), row.host_peak, openssl_peak,
                static_cast<double>(row.host_peak) * 1024.0 / static_cast<double>(message.size()),
                ratios.c_str());
            std::fflush(stdout);
        }
    }

    // Warm port: one host process serving request after request, as the extensions keep a port
    // open.
    std::map<std::string, double> warm_ms;
    if (warm > 0) {
        std::printf(
            "\nwarm port (one host process, %d requests one after another; time from the first "
            "byte written "
            "to the last byte of the reply):\n",
            warm);
        const std::string message = make_message(10u << 10);
        bench.sink.prepare(1 << 20);
        int in[2], out[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0) fail("pipe failed");
        bench.spawner.start(bench.host_command, in[0], out[1]);
        std::string signed_mime, encrypted_mime;
        for (const char* op : {"message.sign", "message.encrypt"}) {
            bench.sink.size = 0;
            const std::string frames = request_frames(1, op, "mime", message);
            bench.writer.post(in[1], frames, false);
            read_reply(out[0], bench.sink);
            bench.writer.wait();
            (op == std::string("message.sign") ? signed_mime : encrypted_mime) =
                decode_reply(bench.sink.view(), "mime").payload;
        }
        const std::pair<const char*, const std::string*> cases[] = {
            {"message.verify", &signed_mime},
            {"message.decrypt", &encrypted_mime},
            {"message.sign", &message},
            {"message.encrypt", &message}};
        for (const auto& [op, input] : cases) {
            if (!wanted(ops, std::string(op).substr(8))) continue;
            const std::string frames = request_frames(7, op, "mime", *input);
            std::vector<double> t;
            for (int i = 0; i < warm; ++i) {
                bench.sink.size = 0;
                const auto t0 = Clock::now();
                bench.writer.post(in[1], frames, false);
                const bool complete = read_reply(out[0], bench.sink);
                t.push_back(bench::ms(Clock::now() - t0));
                bench.writer.wait();
                if (!complete || !decode_reply(bench.sink.view(), "mime").head.value("ok", false))
                    fail(std::string(op) + " failed on the warm port");
            }
            std::sort(t.begin(), t.end());
            warm_ms[op] = median_of(t);
            std::printf("  10KiB %-16s median %.3f ms, fastest %.3f ms, 90th percentile %.3f ms\n",
                        op, median_of(t), t.front(), t[t.size() * 9 / 10]);
        }
        ::close(in[1]);
        while (bench.sink.read_from(out[0])) {
        }
        ::close(out[0]);
        bench.spawner.wait();
    }

    // The grid the performance note quotes: ratios of medians, per size and operation.
    std::printf(
        "\nsummary: openssl time / host time (medians; above 1 the host is faster), host peak / "
        "message size\n");
    std::printf("%-6s %-22s %-22s %-22s %-22s %-22s %-10s\n", "size", "sign",
                "verify (host's/ossl's)", "encrypt", "decrypt (host's/ossl's)", "sign+encrypt",
                "echo ms");
    for (const auto& label : sizes) {
        auto find = [&](const std::string& op, const std::string& input) -> const Row* {
            for (const auto& r : rows)
                if (r.size == label && r.op == op && r.input == input) return &r;
            return nullptr;
        };
        auto cell = [&](const Row* r) -> std::string {
            if (!r || r->openssl_ms == 0) return "-";
            char s[48];
            std::snprintf(
                s, sizeof s, "%.2fx (%.1fx mem)", r->openssl_ms / r->host_ms,
                static_cast<double>(r->host_peak) * 1024.0 / static_cast<double>(r->message));
            return s;
        };
        auto ratio = [](const Row* r) -> std::string {
            if (!r || r->openssl_ms == 0) return "-";
            char s[16];
            std::snprintf(s, sizeof s, "%.2fx", r->openssl_ms / r->host_ms);
            return s;
        };
        auto pair = [&](const Row* a, const Row* b) { return ratio(a) + " / " + ratio(b); };
        const Row* echo = find("echo", "message");
        std::printf("%-6s %-22s %-22s %-22s %-22s %-22s %-10s\n", label.c_str(),
                    cell(find("sign", "message")).c_str(),
                    pair(find("verify", "host's"), find("verify", "openssl's")).c_str(),
                    cell(find("encrypt", "message")).c_str(),
                    pair(find("decrypt", "host's"), find("decrypt", "openssl's")).c_str(),
                    cell(find("sign+encrypt", "message")).c_str(),
                    echo ? std::to_string(static_cast<int>(echo->host_ms + 0.5)).c_str() : "-");
    }
    print_targets(rows, warm_ms, startup_peak);
    std::printf("load:     %s (at the end)\n", file_line("/proc/loadavg", nullptr).c_str());
    std::filesystem::remove_all(work);
    return 0;
}
