// SPDX-License-Identifier: MIT
// Benchmark (prints figures): recipients.status for 100 addresses against 10,000 stored
// certificates, and opening the store in a fresh host process.
#include "bench/bench_util.h"
#include "e2e/host_process.h"
#include "keystore/keystore.h"
#include "support/pki.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace smime;
using namespace smime::test;
using smime::bench::Clock;
using smime::bench::median;
using smime::bench::ms;

int main(int argc, char** argv) {
    const int total = argc > 1 ? std::atoi(argv[1]) : 10000;
    const auto home = make_temp_dir("bench-ks");
    const auto pki = TestPki::make();
    auto key = make_ec_key("P-256");
    {
        KeyStore store(home);
        const auto t0 = Clock::now();
        std::string bundle;
        for (int i = 0; i < total; ++i) {
            bundle += pem_of(make_cert(key.get(),
                                       {"Peer " + std::to_string(i),
                                        {"peer" + std::to_string(i) + "@example.org"},
                                        false,
                                        -1,
                                        365,
                                        "digitalSignature,keyAgreement",
                                        "emailProtection"},
                                       pki.ca.get(), pki.ca_key.get())
                                 .get());
            if ((i + 1) % 500 == 0 || i + 1 == total) {
                store.import_certificate(bundle, false);
                bundle.clear();
            }
        }
        std::printf("stored %d certificates in %.0f ms (500 per transaction)\n", total,
                    ms(Clock::now() - t0));
    }
    std::vector<std::string> addresses;
    for (int i = 0; i < 100; ++i)
        addresses.push_back(i % 4 == 3
                                ? "unknown" + std::to_string(i) + "@example.com"
                                : "peer" + std::to_string((i * 97) % total) + "@example.org");

    std::vector<double> open_times;
    for (int i = 0; i < 20; ++i) {
        const auto t0 = Clock::now();
        HostProcess host(home);
        const auto status = host.request({{"id", 1}, {"op", "keystore.status"}});
        open_times.push_back(ms(Clock::now() - t0));
        if (status["result"]["counts"]["certificates"] != total) {
            std::fprintf(stderr, "unexpected count\n");
            return 1;
        }
    }
    std::printf(
        "fresh process start to keystore.status reply (store opened): median %.2f ms (20 runs)\n",
        median(open_times));

    HostProcess host(home);
    host.request({{"id", 0}, {"op", "keystore.status"}});
    std::vector<double> times;
    for (int i = 0; i < 50; ++i) {
        const auto t0 = Clock::now();
        const auto r = host.request(
            {{"id", i + 1}, {"op", "recipients.status"}, {"args", {{"addresses", addresses}}}});
        times.push_back(ms(Clock::now() - t0));
        if (r["result"]["recipients"].size() != 100) return 1;
    }
    std::printf(
        "recipients.status, 100 addresses against %d certificates: median %.2f ms, max %.2f ms (50 "
        "requests, "
        "round trip through the host)\n",
        total, median(times), *std::max_element(times.begin(), times.end()));
    std::filesystem::remove_all(home);
    return 0;
}
