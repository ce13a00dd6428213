// SPDX-License-Identifier: MIT
// Benchmark (prints figures, asserts nothing): message.sign, verify, encrypt and decrypt through
// the full native messaging path — a host process, framed JSON, the message sent and returned in
// chunks as an extension does — against `openssl cms` on the same files, with peak memory.
#include "bench/bench_util.h"
#include "e2e/host_process.h"
#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "mime/encoding.h"

#include <openssl/pem.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace smime;
using namespace smime::test;
using namespace smime::bench;

namespace {

long status_kib(int pid, const char* field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
    return 0;
}

// One operation in a fresh host process: time from the first byte sent to the last byte of the
// reply (decoded as it arrives), and the host's peak resident memory (VmHWM) for the whole process.
Sample run_host(const std::filesystem::path& home, const std::string& op, const std::string& input, std::string* output) {
    // The frames are prepared first, as an extension holds its message before it sends it.
    const std::string frames = HostProcess::payload_frames({{"id", 1}, {"op", op}, {"args", json::object()}}, "mime",
                                                           input, 768000);
    HostProcess host(home);
    host.request({{"id", 0}, {"op", "keystore.status"}});  // store opened before timing
    // The reply lands in a buffer kept from run to run, as in a browser that has been running
    // for a while: first use of fresh memory is slow on virtual machines and is not the host's cost.
    static std::string result;
    result.clear();
    const auto t0 = Clock::now();
    const json reply = host.exchange(frames, &result, "mime");
    Sample s;
    s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    s.peak_kib = status_kib(host.pid(), "VmHWM:");
    if (reply.value("ok", false) != true) {
        std::fprintf(stderr, "%s failed: %s\n", op.c_str(), reply.dump().substr(0, 300).c_str());
        std::exit(1);
    }
    if (output) *output = result;
    if (std::getenv("SMIME_HOST_LOG")) {  // the host's own timings, with SMIME_HOST_LOG=debug
        host.close_stdin();
        host.wait_exit(std::chrono::seconds(5));
        std::fputs(host.stderr_text().c_str(), stderr);
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    start_command_runner();
    const std::string pki = argc > 1 ? argv[1] : ENGINE_TEST_PKI;
    const std::string only = argc > 2 ? argv[2] : "";     // one size, e.g. 25MiB
    const std::string only_op = argc > 3 ? argv[3] : "";  // one operation, e.g. sign
    const auto work = make_temp_dir("bench-protocol");
    const auto home = work / "home";
    const std::string alice = pki + "/alice.pem", key = pki + "/alice.key", root = pki + "/root.pem";
    {
        engine::Identity id;
        id.certificate = certinfo::parse(read_file(alice));
        const std::string key_pem = read_file(key);
        auto bio = ossl::memory_bio(key_pem);
        id.private_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        id.chain.push_back(certinfo::parse(read_file(pki + "/intermediate.pem")));
        const std::string p12 = pkcs12::write(id, SecureString("bench"), "alice");
        HostProcess setup(home);
        const json a = setup.request({{"id", 1}, {"op", "identities.import"},
                                      {"args", {{"pkcs12", base64::encode(p12)}, {"password", "bench"}}}});
        const json b = setup.request({{"id", 2}, {"op", "certificates.import"},
                                      {"args", {{"certificate", read_file(root)}, {"trust_anchor", true}}}});
        if (a.value("ok", false) != true || b.value("ok", false) != true) {
            std::fprintf(stderr, "setup failed: %s %s\n", a.dump().c_str(), b.dump().c_str());
            return 1;
        }
    }
    std::printf("through the native messaging protocol (fresh host process per run, message sent and returned in "
                "768,000-byte chunks; time from first byte sent to last byte received) vs openssl cms on the same file; median wall time; peak = max RSS\n");
    std::printf("%-6s %-8s %10s %10s %8s %12s %12s %10s\n", "size", "op", "host s", "openssl s", "ratio",
                "host peak", "openssl peak", "peak/size");
    for (const auto& [label, size] : kMessageSizes) {
        if (!only.empty() && only != label) continue;
        const std::string msg_path = (work / "msg.eml").string();
        const std::string message = make_message(size);
        write_file(msg_path, message);
        const int runs = size > (5u << 20) ? 3 : 5;
        std::string signed_mail, encrypted_mail;
        run_host(home, "message.sign", message, &signed_mail);
        run_host(home, "message.encrypt", message, &encrypted_mail);
        const std::string s_ossl = (work / "s.eml").string(), e_ossl = (work / "e.eml").string();
        struct Op {
            const char* name;
            const std::string* input;
            std::vector<std::string> openssl;
        };
        const Op ops[] = {
            {"sign", &message, {"openssl", "cms", "-sign", "-in", msg_path, "-signer", alice, "-inkey", key, "-out", s_ossl}},
            {"verify", &signed_mail, {"openssl", "cms", "-verify", "-in", s_ossl, "-CAfile", root, "-out", "/dev/null"}},
            {"encrypt", &message, {"openssl", "cms", "-encrypt", "-aes256", "-in", msg_path, "-out", e_ossl, alice}},
            {"decrypt", &encrypted_mail,
             {"openssl", "cms", "-decrypt", "-in", e_ossl, "-recip", alice, "-inkey", key, "-out", "/dev/null"}},
        };
        run_command(ops[0].openssl);  // openssl's signed and encrypted files, for its verify and decrypt
        run_command(ops[2].openssl);
        for (const Op& op : ops) {
            if (!only_op.empty() && only_op != op.name) continue;
            const Sample o =
                median_run(runs, [&] { return run_host(home, std::string("message.") + op.name, *op.input, nullptr); });
            const Sample t = median_run(runs, [&] { return run_command(op.openssl); });
            std::printf("%-6s %-8s %10.4f %10.4f %7.2fx %9ld KiB %9ld KiB %9.2fx\n", label, op.name, o.seconds, t.seconds,
                        t.seconds / o.seconds, o.peak_kib, t.peak_kib, static_cast<double>(o.peak_kib) * 1024.0 / static_cast<double>(size));
            std::fflush(stdout);
        }
    }
    std::filesystem::remove_all(work);
    return 0;
}
