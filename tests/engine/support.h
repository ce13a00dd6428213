// SPDX-License-Identifier: MIT
// Test helpers: files, keys and certificates from the generated PKI and the corpus, and a
// KeyProvider whose contents each test sets.
#pragma once

#include "engine/engine.h"
#include "util/error.h"

#include <openssl/cms.h>

#include <string>
#include <vector>

namespace test {

using namespace smime;
using namespace smime::engine;

std::string pki_file(const std::string& name);   // path in the generated PKI
std::string data_file(const std::string& name);  // path in tests/data
std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view content);

ossl::X509Ptr load_cert(const std::string& path);  // PEM or DER
ossl::PKeyPtr load_key(const std::string& path);   // PEM or DER, unencrypted
ossl::X509CrlPtr load_crl(const std::string& path);
Identity load_identity(const std::string& name);  // generated PKI user, chain = intermediate
Identity load_p12(const std::string& path, const std::string& password);
Identity clone(const Identity& identity);
Recipient recipient(const std::string& name, std::vector<std::string> capabilities = {});

// A vector of move-only recipients.
template <typename... R>
std::vector<Recipient> recipients(R&&... r) {
    std::vector<Recipient> out;
    (out.push_back(std::forward<R>(r)), ...);
    return out;
}

// A plain test message from NAME@example.test.
std::string message(const std::string& from, const std::string& body = "Hello, S/MIME.\r\n");

class TestKeys final : public KeyProvider {
public:
    std::vector<Identity> identities;
    std::vector<ossl::X509Ptr> anchors;
    std::vector<ossl::X509Ptr> intermediate_certs;
    std::vector<ossl::X509CrlPtr> crl_list;
    std::vector<ossl::X509Ptr> known_certs;  // what certificates_with_serial searches
    std::vector<Harvest> harvested;
    int identity_requests = 0;

    // The generated PKI's root as the anchor (and the intermediate known).
    static TestKeys with_test_root();

    std::vector<Identity> decryption_identities() override;
    std::vector<ossl::X509Ptr> trust_anchors() override;
    std::vector<ossl::X509Ptr> intermediates() override;
    std::vector<ossl::X509CrlPtr> crls() override;
    std::vector<ossl::X509Ptr> certificates_with_serial(const std::string& serial_hex) override;
    void harvest(const Harvest& learned) override;
};

// The generated PKI's root as the anchor, and alice's identity.
TestKeys alice_keys();

// The code decrypting `text` with alice_keys() fails with; Internal when it decrypts.
smime::Code alice_decrypt_error(const std::string& text);

// The first signature's verdict name, or "none".
std::string verdict(const Status& status, std::size_t index = 0);
std::vector<std::string> reasons(const Status& status, std::size_t index = 0);

// The encoding of `cms` made from `in`: streamed indefinite-length BER when `flags` has
// CMS_STREAM (as streaming producers write), else definite-length DER (as `openssl cms` writes).
std::string cms_output(CMS_ContentInfo* cms, BIO* in, unsigned flags);

// A DER element: `tag`, the definite length of `contents`, `contents`.
std::string tlv(unsigned char tag, std::string_view contents);

// Runs a shell command; returns its exit status and collects stdout+stderr into `output`.
int run(const std::string& command, std::string* output = nullptr);

}  // namespace test
