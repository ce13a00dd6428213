// SPDX-License-Identifier: MIT
// Benchmark (prints figures, asserts nothing): process start to `hello` reply, and throughput of
// the chunked path for a payload echoed through the host, as an extension would send it.
#include "bench/bench_util.h"
#include "e2e/host_process.h"
#include "protocol/envelope.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace smime::test;
using smime::bench::Clock;
using smime::bench::median;
using smime::bench::ms;

int main(int argc, char** argv) {
    const int starts = argc > 1 ? std::atoi(argv[1]) : 50;
    const std::size_t mb = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 25;
    const auto home = make_temp_dir("bench");

    std::vector<double> start_to_hello;
    for (int i = 0; i < starts; ++i) {
        const auto t0 = Clock::now();
        HostProcess host(home);
        host.send({{"id", 1}, {"op", "hello"}});
        host.read_json();
        start_to_hello.push_back(ms(Clock::now() - t0));
    }
    std::printf(
        "process start to hello reply: median %.2f ms, min %.2f ms, max %.2f ms (%d runs)\n",
        median(start_to_hello), *std::min_element(start_to_hello.begin(), start_to_hello.end()),
        *std::max_element(start_to_hello.begin(), start_to_hello.end()), starts);

    const std::size_t size = mb * 1000 * 1000;
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>((i * 2654435761u) >> 13);
    HostProcess host(home);
    std::vector<double> up, down, total;
    for (int run = 0; run < 7; ++run) {
        const std::size_t chunk = 768000;
        const std::size_t chunks = (size + chunk - 1) / chunk;
        nlohmann::json req = {{"id", run},
                              {"op", "echo"},
                              {"args", {{"data", {{"chunks", chunks}, {"size", size}}}}}};
        const auto t0 = Clock::now();
        host.write_raw(frame_bytes(req.dump()));
        for (std::size_t i = 0; i < chunks; ++i) {
            std::string body = "{\"id\":" + std::to_string(run) +
                               ",\"chunk\":" + std::to_string(i) + ",\"data\":\"";
            smime::base64::encode_append(std::string_view(payload).substr(i * chunk, chunk), body);
            body += "\"}";
            host.write_raw(frame_bytes(body));
        }
        const auto head = host.read_json();
        const auto t1 = Clock::now();
        std::string back;
        const auto n = head["result"]["data"]["chunks"].get<std::size_t>();
        back.reserve(size);
        std::string body;
        for (std::size_t i = 0; i < n; ++i) {
            if (!host.read_frame_into(body)) return 1;
            // A browser's JSON.parse is native and fast; the scanner stands in for it here.
            const auto c = smime::envelope::parse_chunk_fast(body);
            if (!c || !smime::base64::decode_append(c->data, back)) return 1;
        }
        const auto t2 = Clock::now();
        if (back != payload) {
            std::fprintf(stderr, "echo returned different bytes\n");
            return 1;
        }
        up.push_back(ms(t1 - t0));
        down.push_back(ms(t2 - t1));
        total.push_back(ms(t2 - t0));
    }
    const double mbytes = static_cast<double>(size) / 1e6;
    std::printf(
        "echo %zu MB chunked: to host %.1f ms (%.0f MB/s), from host %.1f ms (%.0f MB/s), round "
        "trip %.1f ms "
        "(medians of %zu runs, client-side base64 and JSON included)\n",
        mb, median(up), mbytes / (median(up) / 1000), median(down), mbytes / (median(down) / 1000),
        median(total), up.size());
    std::filesystem::remove_all(home);
    return 0;
}
