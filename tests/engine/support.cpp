// SPDX-License-Identifier: MIT
// Test helpers (see support.h).
#include "support.h"

#include <doctest/doctest.h>

#include "pki/cert_info.h"
#include "util/providers.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace test {

std::string pki_file(const std::string& name) { return std::string(ENGINE_TEST_PKI) + "/" + name; }
std::string data_file(const std::string& name) {
    return std::string(ENGINE_TEST_DATA) + "/" + name;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

ossl::X509Ptr load_cert(const std::string& path) {
    const std::string text = read_file(path);
    auto bio = ossl::memory_bio(text);
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        cert.reset(d2i_X509(nullptr, &p, static_cast<long>(text.size())));
    }
    ERR_clear_error();
    if (!cert) throw std::runtime_error("no certificate in " + path);
    return cert;
}

ossl::PKeyPtr load_key(const std::string& path) {
    const std::string text = read_file(path);
    auto bio = ossl::memory_bio(text);
    ossl::PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(text.size())));
    }
    ERR_clear_error();
    if (!key) throw std::runtime_error("no key in " + path);
    return key;
}

ossl::X509CrlPtr load_crl(const std::string& path) {
    const std::string text = read_file(path);
    auto bio = ossl::memory_bio(text);
    ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) {
        const auto* p = reinterpret_cast<const unsigned char*>(text.data());
        crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(text.size())));
    }
    ERR_clear_error();
    if (!crl) throw std::runtime_error("no CRL in " + path);
    return crl;
}

Identity load_identity(const std::string& name) {
    Identity id;
    id.certificate = load_cert(pki_file(name + ".pem"));
    id.private_key = load_key(pki_file(name + ".key"));
    id.chain.push_back(load_cert(pki_file("intermediate.pem")));
    return id;
}

Identity load_p12(const std::string& path, const std::string& password) {
    ensure_legacy_provider();
    const std::string text = read_file(path);
    auto bio = ossl::memory_bio(text);
    ossl::Pkcs12Ptr p12(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!p12) throw std::runtime_error("bad PKCS#12 " + path);
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (!PKCS12_parse(p12.get(), password.c_str(), &key, &cert, &ca)) {
        ERR_clear_error();
        throw std::runtime_error("cannot open PKCS#12 " + path);
    }
    Identity id;
    id.private_key.reset(key);
    id.certificate.reset(cert);
    ossl::X509StackPtr chain(ca);
    while (chain && sk_X509_num(chain.get()) > 0) id.chain.emplace_back(sk_X509_shift(chain.get()));
    return id;
}

Identity clone(const Identity& identity) {
    Identity copy;
    copy.certificate = ossl::up_ref(identity.certificate.get());
    EVP_PKEY_up_ref(identity.private_key.get());
    copy.private_key.reset(identity.private_key.get());
    for (const auto& c : identity.chain) copy.chain.push_back(ossl::up_ref(c.get()));
    copy.fingerprint = identity.fingerprint;
    return copy;
}

Recipient recipient(const std::string& name, std::vector<std::string> capabilities) {
    Recipient r;
    r.address = name + "@example.test";
    r.certificate = load_cert(pki_file(name + ".pem"));
    r.capabilities = std::move(capabilities);
    return r;
}

std::string message(const std::string& from, const std::string& body) {
    return "From: " + from + " <" + from +
           "@example.test>\r\nTo: Bob <bob@example.test>\r\n"
           "Subject: test\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: "
           "<1@example.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
           body;
}

TestKeys TestKeys::with_test_root() {
    TestKeys keys;
    keys.anchors.push_back(load_cert(pki_file("root.pem")));
    keys.intermediate_certs.push_back(load_cert(pki_file("intermediate.pem")));
    return keys;
}

std::vector<Identity> TestKeys::decryption_identities() {
    ++identity_requests;
    std::vector<Identity> out;
    for (const auto& id : identities) out.push_back(clone(id));
    return out;
}

std::vector<ossl::X509Ptr> TestKeys::trust_anchors() {
    std::vector<ossl::X509Ptr> out;
    for (const auto& c : anchors) out.push_back(ossl::up_ref(c.get()));
    return out;
}

std::vector<ossl::X509Ptr> TestKeys::intermediates() {
    std::vector<ossl::X509Ptr> out;
    for (const auto& c : intermediate_certs) out.push_back(ossl::up_ref(c.get()));
    return out;
}

std::vector<ossl::X509Ptr> TestKeys::certificates_with_serial(const std::string& serial_hex) {
    std::vector<ossl::X509Ptr> out;
    for (const auto& c : known_certs)
        if (pki::serial_hex(X509_get0_serialNumber(c.get())) == serial_hex)
            out.push_back(ossl::up_ref(c.get()));
    return out;
}

std::vector<ossl::X509CrlPtr> TestKeys::crls() {
    std::vector<ossl::X509CrlPtr> out;
    for (const auto& c : crl_list) {
        X509_CRL_up_ref(c.get());
        out.emplace_back(c.get());
    }
    return out;
}

void TestKeys::harvest(const Harvest& learned) {
    Harvest copy;
    copy.certificate = ossl::up_ref(learned.certificate.get());
    for (const auto& c : learned.chain) copy.chain.push_back(ossl::up_ref(c.get()));
    copy.capabilities = learned.capabilities;
    if (learned.preferred_encryption_certificate) {
        copy.preferred_encryption_certificate =
            ossl::up_ref(learned.preferred_encryption_certificate.get());
    }
    copy.sender_address = learned.sender_address;
    copy.matched_addresses = learned.matched_addresses;
    copy.good = learned.good;
    copy.signing_time = learned.signing_time;
    harvested.push_back(std::move(copy));
}

TestKeys alice_keys() {
    TestKeys keys = TestKeys::with_test_root();
    keys.identities.push_back(load_identity("alice"));
    return keys;
}

smime::Code alice_decrypt_error(const std::string& text) {
    TestKeys keys = alice_keys();
    try {
        decrypt(text, keys);
    } catch (const smime::Error& e) {
        return e.code();
    }
    return smime::Code::Internal;
}

std::string verdict(const Status& status, std::size_t index) {
    if (index >= status.signatures.size()) return "none";
    return std::string(verdict_name(status.signatures[index].verdict));
}

std::vector<std::string> reasons(const Status& status, std::size_t index) {
    std::vector<std::string> out;
    if (index < status.signatures.size()) {
        for (const Verdict v : status.signatures[index].reasons) out.emplace_back(verdict_name(v));
    }
    return out;
}

int run(const std::string& command, std::string* output) {
    const std::string full = command + " 2>&1";
    FILE* pipe = popen(full.c_str(), "r");
    if (!pipe) return -1;
    std::array<char, 4096> buffer;
    std::string collected;
    std::size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        collected.append(buffer.data(), n);
    const int status = pclose(pipe);
    if (output) *output = std::move(collected);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string cms_output(CMS_ContentInfo* cms, BIO* in, unsigned flags) {
    REQUIRE(cms);
    ossl::BioPtr out(BIO_new(BIO_s_mem()));
    if (flags & CMS_STREAM) {
        REQUIRE(i2d_CMS_bio_stream(out.get(), cms, in, static_cast<int>(flags)) == 1);
    } else {
        REQUIRE(i2d_CMS_bio(out.get(), cms) == 1);
    }
    return ossl::bio_contents(out.get());
}

std::string tlv(unsigned char tag, std::string_view contents) {
    std::string out(1, static_cast<char>(tag));
    if (contents.size() < 0x80) {
        out += static_cast<char>(contents.size());
    } else {
        std::string length;
        for (std::size_t n = contents.size(); n > 0; n >>= 8)
            length.insert(length.begin(), static_cast<char>(n & 0xff));
        out += static_cast<char>(0x80 | length.size());
        out += length;
    }
    return out.append(contents);
}

}  // namespace test
