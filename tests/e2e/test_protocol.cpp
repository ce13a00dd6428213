// SPDX-License-Identifier: MIT
// End-to-end tests of the protocol against the real binary: golden request/reply cases from
// tests/e2e/cases/, plus large payloads, browser argument forms and lifetime.
#include "e2e/host_process.h"
#include "support/frames.h"
#include "util/base64.h"

#include <doctest/doctest.h>

#include <fstream>
#include <thread>

using namespace smime::test;

namespace {

std::string hex_decode(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

// "*" matches anything present; "<string>", "<integer>", "<object>", "<array>", "<null>" match a
// type; objects match when every key of the pattern matches (extra keys are allowed).
bool matches(const json& pattern, const json& actual, std::string& where) {
    if (pattern.is_string()) {
        const auto& p = pattern.get_ref<const std::string&>();
        if (p == "*") return true;
        if (p == "<string>") return actual.is_string();
        if (p == "<integer>") return actual.is_number_integer();
        if (p == "<object>") return actual.is_object();
        if (p == "<array>") return actual.is_array();
        if (p == "<null>") return actual.is_null();
    }
    if (pattern.is_object()) {
        if (!actual.is_object()) return false;
        for (const auto& [k, v] : pattern.items()) {
            if (!actual.contains(k)) {
                where += "." + k + " missing";
                return false;
            }
            std::string sub = where + "." + k;
            if (!matches(v, actual[k], sub)) {
                where = sub;
                return false;
            }
        }
        return true;
    }
    if (pattern.is_array()) {
        if (!actual.is_array() || actual.size() != pattern.size()) return false;
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            std::string sub = where + "[" + std::to_string(i) + "]";
            if (!matches(pattern[i], actual[i], sub)) {
                where = sub;
                return false;
            }
        }
        return true;
    }
    return pattern == actual;
}

std::string big_pattern(std::size_t size) {
    std::string s(size, '\0');
    std::uint32_t x = 12345;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

}  // namespace

TEST_CASE("golden cases in tests/e2e/cases") {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(SMIME_TEST_CASES))
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 10);
    for (const auto& path : files) {
        CAPTURE(path.filename().string());
        std::ifstream in(path);
        const json test_case = json::parse(in);
        const auto home = make_temp_dir("case");
        std::vector<std::string> args;
        if (test_case.contains("args")) args = test_case["args"].get<std::vector<std::string>>();
        HostProcess host(home, args);
        std::string bytes;
        for (const auto& item : test_case["send"]) {
            if (item.contains("json")) bytes += frame(item["json"].dump());
            else if (item.contains("text")) bytes += frame(item["text"].get<std::string>());
            else if (item.contains("hex")) bytes += hex_decode(item["hex"].get<std::string>());
            else if (item.contains("frame_hex"))
                bytes += frame(hex_decode(item["frame_hex"].get<std::string>()));
        }
        host.write_raw(bytes);  // all frames in one write: back to back
        if (test_case.value("close", false)) host.close_stdin();
        for (const auto& expected : test_case["expect"]) {
            const json reply = host.read_json();
            std::string where = "reply";
            CHECK_MESSAGE(matches(expected, reply, where), path.filename().string()
                                                               << ": " << where << "\n  expected "
                                                               << expected.dump() << "\n  got      "
                                                               << reply.dump());
        }
        const std::string then = test_case.value("then", "serving");
        if (then == "serving") {
            const json hello = host.request({{"id", "still-there"}, {"op", "hello"}});
            CHECK(hello["ok"] == true);
            host.close_stdin();
            CHECK(host.wait_exit(std::chrono::seconds(2)) == 0);
        } else {
            CHECK(host.wait_exit(std::chrono::seconds(2)).has_value());
            CHECK_FALSE(host.read_frame(std::chrono::milliseconds(100)).has_value());
        }
        std::filesystem::remove_all(home);
    }
}

TEST_CASE("payloads of several MiB travel both ways, chunked, unchanged") {
    const auto home = make_temp_dir("big");
    HostProcess host(home);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{524288},
                             std::size_t{524289}, std::size_t{6 * 1024 * 1024 + 5}}) {
        CAPTURE(size);
        const std::string payload = big_pattern(size);
        std::string back;
        const json head =
            host.call_with_payload({{"id", "p" + std::to_string(size)}, {"op", "echo"}}, "data",
                                   payload, 600000, &back, "data");
        REQUIRE(head["ok"] == true);
        CHECK(head["result"]["size"] == size);
        CHECK(back == payload);
    }
    // The same payload sent inline in one large frame (allowed up to 64 MiB) comes back chunked.
    const std::string payload = big_pattern(3 * 1024 * 1024);
    std::string b64;
    smime::base64::encode_append(payload, b64);
    host.send({{"id", "inline"}, {"op", "echo"}, {"args", {{"data", b64}}}});
    const json head = host.read_json();
    REQUIRE(head["ok"] == true);
    REQUIRE(head["result"]["data"].is_object());
    std::string back;
    for (std::size_t i = 0; i < head["result"]["data"]["chunks"].get<std::size_t>(); ++i) {
        auto body = host.read_frame();
        REQUIRE(body.has_value());
        CHECK(body->size() <= 1048576);
        smime::base64::decode_append(json::parse(*body)["data"].get<std::string>(), back);
    }
    CHECK(back == payload);
    CHECK(host.stderr_text().find(b64.substr(0, 64)) == std::string::npos);  // payload never logged
    std::filesystem::remove_all(home);
}

TEST_CASE("non-ASCII text is passed as UTF-8 bytes, length counted in bytes") {
    const auto home = make_temp_dir("utf8");
    HostProcess host(home);
    const std::string text = "Grüße, 你好, \xF0\x9F\x94\x90 and a quote \" and \\ backslash";
    const json reply = host.request({{"id", 1}, {"op", "echo"}, {"args", {{"text", text}}}});
    CHECK(reply["result"]["text"] == text);
    std::filesystem::remove_all(home);
}

TEST_CASE("both browser argument forms are accepted and recorded") {
    const auto home = make_temp_dir("argv");
    {
        HostProcess chromium(
            home, {"chrome-extension://abcdefghijklmnopabcdefghijklmnop/", "--parent-window=0"});
        const json hello = chromium.request({{"id", 1}, {"op", "hello"}});
        CHECK(hello["result"]["caller"]["kind"] == "chromium");
        CHECK(hello["result"]["caller"]["origin"] ==
              "chrome-extension://abcdefghijklmnopabcdefghijklmnop/");
    }
    {
        HostProcess mozilla(home,
                            {"/usr/lib/mozilla/native-messaging-hosts/org.smimehost.native.json",
                             "smime-host@smimehost.org"});
        const json hello = mozilla.request({{"id", 1}, {"op", "hello"}});
        CHECK(hello["result"]["caller"]["kind"] == "mozilla");
        CHECK(hello["result"]["caller"]["addon_id"] == "smime-host@smimehost.org");
    }
    std::filesystem::remove_all(home);
}

TEST_CASE("the host exits promptly on EOF, even with a chunked request half sent") {
    const auto home = make_temp_dir("eof");
    HostProcess host(home);
    host.send({{"id", 1}, {"op", "echo"}, {"args", {{"data", {{"chunks", 5}}}}}});
    host.send({{"id", 1}, {"chunk", 0}, {"data", "YWJj"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto start = std::chrono::steady_clock::now();
    host.close_stdin();
    // A host that waited for the rest of the request would never exit; one that exits takes
    // milliseconds (printed below). The bound is loose because sanitizer builds on a loaded
    // machine start and stop slowly; it tells a hang from an exit, it does not time one.
    const auto code = host.wait_exit(std::chrono::seconds(10));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    MESSAGE("exit after EOF took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
    std::filesystem::remove_all(home);
}

TEST_CASE("stdout carries nothing but frames, stderr carries the logs") {
    const auto home = make_temp_dir("stdout");
    HostProcess host(home, {}, {{"SMIME_HOST_LOG", "debug"}});
    CHECK(host.request({{"id", 1}, {"op", "hello"}})["ok"] == true);
    host.send_text("{bad json");
    CHECK(host.read_json()["error"]["code"] == "ERR_BAD_JSON");
    host.close_stdin();
    CHECK(host.wait_exit(std::chrono::seconds(2)) == 0);
    CHECK_FALSE(host.read_frame(std::chrono::milliseconds(100)).has_value());  // no stray bytes
    CHECK(host.stderr_text().find("smime-host[info]") != std::string::npos);
    std::filesystem::remove_all(home);
}
