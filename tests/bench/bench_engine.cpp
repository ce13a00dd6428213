// SPDX-License-Identifier: MIT
// Benchmark: sign, verify, encrypt and decrypt through the engine against `openssl cms` on the
// same files (1 KiB to 25 MiB). Prints median wall time, peak memory and the ratio; no
// assertions. Each measurement runs in a fresh process so peak memory is its own.
//   bench_engine [PKI_DIR [SIZE]]   (PKI defaults to the engine tests' generated one; SIZE: one of
//                                    1KiB 1MiB 10MiB 25MiB to run only that size)
#include "engine/engine.h"
#include "mime/encoding.h"

#include <openssl/pem.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "bench/bench_util.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace smime;
using namespace smime::engine;
using namespace smime::bench;

namespace {

std::string g_pki = ENGINE_TEST_PKI;
std::string g_self;
const std::string kWork = "/tmp/smime-bench-" + std::to_string(getpid());

ossl::X509Ptr cert(const std::string& name) {
    const std::string text = read_file(g_pki + "/" + name + ".pem");
    auto bio = ossl::memory_bio(text);
    return ossl::X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Identity identity(const std::string& name) {
    Identity id;
    id.certificate = cert(name);
    const std::string text = read_file(g_pki + "/" + name + ".key");
    auto bio = ossl::memory_bio(text);
    id.private_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    id.chain.push_back(cert("intermediate"));
    return id;
}

class BenchKeys final : public KeyProvider {
public:
    std::vector<Identity> decryption_identities() override {
        std::vector<Identity> out;
        out.push_back(identity("alice"));
        return out;
    }
    std::vector<ossl::X509Ptr> trust_anchors() override {
        std::vector<ossl::X509Ptr> out;
        out.push_back(cert("root"));
        return out;
    }
    std::vector<ossl::X509Ptr> intermediates() override { return {}; }
    std::vector<ossl::X509CrlPtr> crls() override { return {}; }
    void harvest(const Harvest&) override {}
};

long rss_kib(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
    }
    return 0;
}

// Child mode: run one engine operation on a file, print "seconds peak_kib".
int child(const std::string& op, const std::string& in, const std::string& out) {
    const std::string input = read_file(in);
    const long before = rss_kib("VmRSS:");
    const auto start = std::chrono::steady_clock::now();
    // Results are moved, never copied: the glue hands them on the same way.
    SecureString secure;
    Pieces opened;  // what verify and decrypt hand over (it may refer to the input)
    std::string result;
    BenchKeys keys;
    if (op == "sign") {
        secure = sign(input, identity("alice"));
    } else if (op == "verify") {
        opened = verify(input, keys).mime;
    } else if (op == "encrypt") {
        Recipient r;
        r.address = "alice@example.test";
        r.certificate = cert("alice");
        std::vector<Recipient> rs;
        rs.push_back(std::move(r));
        result = encrypt(input, rs);
    } else if (op == "decrypt") {
        opened = decrypt(input, keys).mime;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long peak = rss_kib("VmHWM:") - before;
    if (!out.empty()) write_file(out, result.empty() ? secure.str() : result);
    std::printf("%f %ld\n", seconds, peak);
    return 0;
}

Sample run_engine(const std::string& op, const std::string& in, const std::string& out) {
    const std::string command =
        g_self + " --child " + op + " " + in + (out.empty() ? "" : " " + out);
    FILE* pipe = popen(command.c_str(), "r");
    Sample s{0, 0};
    if (pipe) {
        if (std::fscanf(pipe, "%lf %ld", &s.seconds, &s.peak_kib) != 2) s = {0, 0};
        pclose(pipe);
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    start_command_runner();
    g_self = argv[0];
    if (argc >= 2 && std::string(argv[1]) == "--child") {
        return argc >= 4 ? child(argv[2], argv[3], argc > 4 ? argv[4] : "") : 2;
    }
    if (argc >= 2) g_pki = argv[1];
    const std::string only = argc >= 3 ? argv[2] : "";
    std::system(("mkdir -p " + kWork).c_str());
    const std::string alice = g_pki + "/alice.pem", key = g_pki + "/alice.key",
                      root = g_pki + "/root.pem";
    std::printf("%-8s %-8s %12s %12s %8s %14s %14s %10s\n", "size", "op", "engine s", "openssl s",
                "speedup", "engine peak", "openssl peak", "peak/size");
    for (const auto& [label, size] : kMessageSizes) {
        if (!only.empty() && only != label) continue;
        const std::string msg = kWork + "/msg.eml";
        write_file(msg, make_message(size));
        const int runs = size > (5 << 20) ? 3 : 5;
        const std::string s_ours = kWork + "/signed.eml", e_ours = kWork + "/enc.eml";
        const std::string s_ossl = kWork + "/signed-ossl.eml", e_ossl = kWork + "/enc-ossl.eml";
        struct Op {
            const char* name;
            std::string in, out;
            std::vector<std::string> openssl;
        };
        const Op ops[] = {
            {"sign",
             msg,
             s_ours,
             {"openssl", "cms", "-sign", "-in", msg, "-signer", alice, "-inkey", key, "-out",
              s_ossl}},
            {"verify",
             s_ours,
             "",
             {"openssl", "cms", "-verify", "-in", s_ossl, "-CAfile", root, "-out", "/dev/null"}},
            {"encrypt",
             msg,
             e_ours,
             {"openssl", "cms", "-encrypt", "-aes256", "-in", msg, "-out", e_ossl, alice}},
            {"decrypt",
             e_ours,
             "",
             {"openssl", "cms", "-decrypt", "-in", e_ossl, "-recip", alice, "-inkey", key, "-out",
              "/dev/null"}},
        };
        for (const Op& op : ops) {
            const Sample ours =
                median_run(runs, [&] { return run_engine(op.name, op.in, op.out); });
            const Sample theirs = median_run(runs, [&] { return run_command(op.openssl); });
            std::printf("%-8s %-8s %12.4f %12.4f %7.2fx %11ld KiB %11ld KiB %9.2fx\n", label,
                        op.name, ours.seconds, theirs.seconds,
                        ours.seconds > 0 ? theirs.seconds / ours.seconds : 0.0, ours.peak_kib,
                        theirs.peak_kib,
                        static_cast<double>(ours.peak_kib) * 1024.0 / static_cast<double>(size));
            std::fflush(stdout);
        }
    }
    std::system(("rm -rf " + kWork).c_str());
    return 0;
}
