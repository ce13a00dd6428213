// SPDX-License-Identifier: MIT
// The serving host under pressure and attack, as real processes: memory limits (prlimit), upload
// budget, core dumps and dumpability, locked memory, and numbers the parser cannot hold.
#include "e2e/host_process.h"
#include "support/files.h"
#include "util/base64.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

using namespace smime::test;

namespace {

std::string code(const json& reply) {
    return reply.value("ok", false) ? "ok" : reply["error"]["code"].get<std::string>();
}

// One line of /proc/<pid>/status or /proc/<pid>/limits, from its label on.
std::string proc_line(int pid, const std::string& file, const std::string& label) {
    const std::string text = read_file("/proc/" + std::to_string(pid) + "/" + file);
    const auto at = text.find(label);
    if (at == std::string::npos) return {};
    return text.substr(at, text.find('\n', at) - at);
}

long vm_locked_kib(int pid) {
    const std::string line = proc_line(pid, "status", "VmLck:");
    REQUIRE_FALSE(line.empty());
    return std::stol(line.substr(6));
}

// Imports one of the shared test keys' PKCS#12 files (password "nss"); the reply's code.
std::string import_identity(HostProcess& host, const char* p12) {
    const std::string file = test_key(p12);
    REQUIRE_FALSE(file.empty());
    return code(
        host.request({{"id", "import"},
                      {"op", "identities.import"},
                      {"args", {{"pkcs12", smime::base64::encode(file)}, {"password", "nss"}}}}));
}

std::string chunk_frame(const json& id, std::size_t index, const std::string& encoded) {
    return frame_bytes("{\"id\":" + id.dump() + ",\"chunk\":" + std::to_string(index) +
                       ",\"data\":\"" + encoded + "\"}");
}

}  // namespace

TEST_CASE(
    "an upload that cannot be allocated under a real address-space limit gets ERR_TOO_LARGE, and "
    "the host goes on") {
    const auto dir = make_temp_dir("memory");
    // 384 MiB of address space: the upload buffer grows 64 -> 128 MiB, and then cannot double.
    HostProcess host(dir, {}, {}, {"prlimit", "--as=" + std::to_string(384u << 20)});
    REQUIRE(code(host.request({{"id", 1}, {"op", "hello"}})) == "ok");

    const std::size_t piece = 16u << 20;
    std::string raw(piece, '\0');
    for (std::size_t i = 0; i < raw.size(); ++i)
        raw[i] = static_cast<char>((i * 2654435761u) >> 11);
    const std::string encoded = smime::base64::encode(raw);
    host.send({{"id", "big"},
               {"op", "echo"},
               {"args", {{"data", {{"chunks", 25}, {"size", 25 * piece}}}}}});
    for (std::size_t i = 0; i < 12; ++i) host.write_raw(chunk_frame("big", i, encoded));
    host.send({{"id", 2}, {"op", "hello"}});

    const json refused = host.read_json(std::chrono::seconds(60));
    CHECK(refused["id"] == "big");
    CHECK(code(refused) == "ERR_TOO_LARGE");
    const json next = host.read_json(std::chrono::seconds(60));
    CHECK(next["id"] == 2);
    CHECK(code(next) == "ok");
    CHECK(host.running());
    std::filesystem::remove_all(dir);
}

TEST_CASE("all uploads in progress share one memory budget (SMIME_HOST_UPLOAD_BUDGET_MIB)") {
    const auto dir = make_temp_dir("budget");
    HostProcess host(dir, {}, {{"SMIME_HOST_UPLOAD_BUDGET_MIB", "4"}});
    const std::size_t mib = 1u << 20;
    // A takes 3 MiB at once (its announced size); B would need 3 more.
    host.send(
        {{"id", "a"}, {"op", "echo"}, {"args", {{"data", {{"chunks", 3}, {"size", 3 * mib}}}}}});
    const json b = host.request(
        {{"id", "b"}, {"op", "echo"}, {"args", {{"data", {{"chunks", 3}, {"size", 3 * mib}}}}}});
    CHECK(b["id"] == "b");
    CHECK(code(b) == "ERR_TOO_LARGE");
    CHECK(b["error"]["details"]["budget"] == 4 * mib);
    // C announces no size and grows chunk by chunk until the budget is spent.
    host.send({{"id", "c"}, {"op", "echo"}, {"args", {{"data", {{"chunks", 10}}}}}});
    const std::string half = smime::base64::encode(std::string(mib / 2, 'c'));
    for (std::size_t i = 0; i < 4; ++i) host.write_raw(chunk_frame("c", i, half));
    const json c = host.read_json();
    CHECK(c["id"] == "c");
    CHECK(code(c) == "ERR_TOO_LARGE");
    // A is unharmed and finishes; small requests are served throughout.
    const std::string mib_text = smime::base64::encode(std::string(mib, 'a'));
    for (std::size_t i = 0; i < 3; ++i) host.write_raw(chunk_frame("a", i, mib_text));
    const json a = host.read_json();
    CHECK(a["id"] == "a");
    CHECK(code(a) == "ok");
    const auto reply_chunks = a["result"]["data"]["chunks"].get<std::size_t>();
    for (std::size_t i = 0; i < reply_chunks; ++i) CHECK(host.read_frame().has_value());
    CHECK(code(host.request({{"id", 3}, {"op", "hello"}})) == "ok");
    std::filesystem::remove_all(dir);
}

TEST_CASE("the serving host is not dumpable and writes no core file") {
    const auto dir = make_temp_dir("dumpable");
    // Start it with core files allowed and, where the tests run as root, as an ordinary user: the
    // kernel hands /proc/<pid> of a non-dumpable process to root, which only shows for others.
    std::vector<std::string> launcher = {"prlimit", "--core=unlimited"};
    if (::geteuid() == 0)
        for (const char* word : {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"})
            launcher.push_back(word);
    HostProcess host(dir, {}, {}, launcher);
    REQUIRE(host.request({{"id", 1}, {"op", "hello"}}).contains("id"));
    const std::string proc = "/proc/" + std::to_string(host.pid());
    const std::string uid_line = proc_line(host.pid(), "status", "Uid:");
    REQUIRE_FALSE(uid_line.empty());
    CHECK(uid_line.find("\t0\t") == std::string::npos);  // the host itself does not run as root
    struct stat st {};
    REQUIRE(::stat((proc + "/status").c_str(), &st) == 0);
    CHECK(st.st_uid == 0);  // PR_SET_DUMPABLE 0
    std::istringstream core(proc_line(host.pid(), "limits", "Max core file size").substr(18));
    std::string soft, hard;
    core >> soft >> hard;
    CHECK(soft == "0");
    CHECK(hard == "0");
    std::filesystem::remove_all(dir);
}

TEST_CASE("the key-encryption key and unsealed keys are in locked memory") {
    const auto dir = make_temp_dir("locked");
    // Nothing is locked before a private key is needed: OpenSSL's secure heap (1 MiB), for the
    // private numbers of keys, is set up when the first one is decoded.
    {
        HostProcess host(dir);
        REQUIRE(code(host.request({{"id", 1}, {"op", "hello"}})) == "ok");
        CHECK(vm_locked_kib(host.pid()) == 0);
        REQUIRE(import_identity(host, "thunderbird/Alice.p12") == "ok");
        CHECK(vm_locked_kib(host.pid()) >= 1024);  // to decode the PKCS#12's key
    }
    // A fresh process that signs decodes the stored key: the heap, and the pages of the derived
    // and the unsealed key.
    HostProcess host(dir);
    REQUIRE(code(host.request({{"id", 1}, {"op", "hello"}})) == "ok");
    CHECK(vm_locked_kib(host.pid()) == 0);
    const std::string message =
        "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: "
        "x\r\n\r\nHello.\r\n";
    REQUIRE(code(host.request({{"id", 2},
                               {"op", "message.sign"},
                               {"args", {{"mime", smime::base64::encode(message)}}}})) == "ok");
    CHECK(vm_locked_kib(host.pid()) > 1024);
    std::filesystem::remove_all(dir);
}

TEST_CASE("encrypting locks memory only when it makes a private key: for an EC recipient") {
    const auto dir = make_temp_dir("locked-encrypt");
    {
        HostProcess host(dir);
        for (const char* p12 : {"thunderbird/Alice.p12", "thunderbird/Fran-ec.p12"})
            REQUIRE(import_identity(host, p12) == "ok");
    }
    const std::string message =
        "From: Alice <alice@example.com>\r\nTo: x@example.com\r\nSubject: x\r\n\r\nHi.\r\n";
    const auto locked_after_encrypting_to = [&](const char* recipient) {
        HostProcess host(dir);
        REQUIRE(code(host.request({{"id", 1},
                                   {"op", "message.encrypt"},
                                   {"args",
                                    {{"mime", smime::base64::encode(message)},
                                     {"recipients", {recipient}}}}})) == "ok");
        return vm_locked_kib(host.pid());
    };
    // RSA key transport needs no private key: nothing is locked.
    CHECK(locked_after_encrypting_to("alice@example.com") == 0);
    // Key agreement makes an ephemeral EC private key: its number goes into the secure heap.
    CHECK(locked_after_encrypting_to("Fran-ec@example.com") >= 1024);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a number out of range is ERR_BAD_JSON and never reaches the log") {
    const auto dir = make_temp_dir("numbers");
    HostProcess host(dir, {}, {{"SMIME_HOST_LOG", "debug"}});
    host.send_text(R"({"id":1,"op":"hello","args":{"n":7.77e999}})");
    const json reply = host.read_json();
    CHECK(reply["id"].is_null());  // the frame never became a request
    CHECK(code(reply) == "ERR_BAD_JSON");
    CHECK(reply.dump().find("7.77") == std::string::npos);
    host.send_text(R"({"id":2,"op":"hello","op":"echo"})");
    CHECK(code(host.read_json()) == "ERR_BAD_JSON");
    CHECK(code(host.request({{"id", 3}, {"op", "hello"}})) == "ok");
    host.close_stdin();
    host.wait_exit(std::chrono::seconds(5));
    CHECK(host.stderr_text().find("7.77") == std::string::npos);
    std::filesystem::remove_all(dir);
}
