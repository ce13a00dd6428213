// SPDX-License-Identifier: MIT
// The system's trust anchors: found in the hashed certificate directory OpenSSL names (or the
// bundle where there is none), trusted only while use_system_trust_anchors allows it.
#include "e2e/host_process.h"
#include "policy/signing.h"
#include "support/files.h"
#include "util/base64.h"
#include "util/ossl.h"

#include <doctest/doctest.h>

#include <openssl/pem.h>

#include <cstdio>
#include <fstream>

using namespace smime;
using namespace smime::test;

namespace {

const std::string kRootsMessage =
    "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: "
    "roots\r\n\r\nHello.\r\n";

// `<subject hash>.0`, the name `openssl rehash` gives a certificate in /etc/ssl/certs.
std::string hashed_name(const std::string& pem) {
    const auto bio = ossl::memory_bio(pem);
    const ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(cert);
    int ok = 0;
    const unsigned long hash =
        X509_NAME_hash_ex(X509_get_subject_name(cert.get()), nullptr, nullptr, &ok);
    REQUIRE(ok == 1);
    char name[16];
    std::snprintf(name, sizeof name, "%08lx.0", hash);
    return name;
}

struct Roots {
    std::filesystem::path dir = make_temp_dir("system-anchors");
    std::filesystem::path hashed = dir / "certs";    // the test CA under its hash name
    std::filesystem::path unhashed = dir / "plain";  // a directory without hash links
    std::filesystem::path bundle = dir / "bundle.pem";
    std::string signed_mime;

    Roots() {
        const std::string ca = test_key("thunderbird/TestCA.pem");
        std::filesystem::create_directories(hashed);
        std::filesystem::create_directories(unhashed);
        std::ofstream(hashed / hashed_name(ca), std::ios::binary) << ca;
        std::ofstream(unhashed / "TestCA.pem", std::ios::binary) << ca;
        std::ofstream(bundle, std::ios::binary) << ca;
        HostProcess setup(dir / "signer");
        const json s =
            import_alice_and_sign(setup, test_key("thunderbird/Alice.p12"), kRootsMessage);
        REQUIRE(s.value("ok", false));
        base64::decode_append(s["result"]["mime"].get<std::string>(), signed_mime);
    }
    ~Roots() { std::filesystem::remove_all(dir); }

    // The verdict of a fresh host (a store without anchors of its own) with this environment.
    std::string verdict(std::map<std::string, std::string> env,
                        const std::optional<json>& policy = std::nullopt) {
        if (policy) {
            std::ofstream(dir / "policy.json") << policy->dump();
            env["SMIME_HOST_POLICY"] = (dir / "policy.json").string();
        }
        HostProcess host(dir / "verifier", {}, env);
        const json v = host.request({{"id", 1},
                                     {"op", "message.verify"},
                                     {"args", {{"mime", base64::encode(signed_mime)}}}});
        REQUIRE(v.value("ok", false));
        return v["result"]["status"]["signatures"][0]["verdict"].get<std::string>();
    }
};

}  // namespace

TEST_CASE(
    "a root in the system's hashed certificate directory (SSL_CERT_DIR) makes the signer trusted") {
    Roots roots;
    const std::string missing = (roots.dir / "no-bundle.pem").string();
    CHECK(roots.verdict({{"SSL_CERT_DIR", roots.hashed.string()}, {"SSL_CERT_FILE", missing}}) ==
          "good");
    // Not found under its hash name, it is not found at all.
    CHECK(roots.verdict({{"SSL_CERT_DIR", roots.unhashed.string()}, {"SSL_CERT_FILE", missing}}) ==
          "untrusted");
    // One of several directories, as SSL_CERT_DIR may list them.
    CHECK(roots.verdict({{"SSL_CERT_DIR", roots.unhashed.string() + ":" + roots.hashed.string()},
                         {"SSL_CERT_FILE", missing}}) == "good");
}

TEST_CASE("without a hashed directory the system bundle (SSL_CERT_FILE) is read") {
    Roots roots;
    CHECK(roots.verdict({{"SSL_CERT_DIR", roots.unhashed.string()},
                         {"SSL_CERT_FILE", roots.bundle.string()}}) == "good");
}

TEST_CASE("use_system_trust_anchors: false ignores the system's roots in either form") {
    Roots roots;
    const json policy = {{"use_system_trust_anchors", false}};
    CHECK(roots.verdict(
              {{"SSL_CERT_DIR", roots.hashed.string()}, {"SSL_CERT_FILE", roots.bundle.string()}},
              policy) == "untrusted");
    CHECK(roots.verdict(
              {{"SSL_CERT_DIR", roots.unhashed.string()}, {"SSL_CERT_FILE", roots.bundle.string()}},
              policy) == "untrusted");
}
