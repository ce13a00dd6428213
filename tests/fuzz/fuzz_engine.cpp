// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes as a received message through the engine's MIME and CMS entry
// points (inspect, verify, decrypt with a throwaway key). Only smime::Error may come out; any
// crash, leak, hang or sanitizer report is a bug.
#include "engine/engine.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string_view>

using namespace smime;
using namespace smime::engine;

namespace {

// A self-signed EC identity made once: decryption attempts reach the RecipientInfo matching.
Identity make_identity() {
    Identity id;
    id.private_key.reset(EVP_EC_gen("P-256"));
    id.certificate.reset(X509_new());
    X509_set_version(id.certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(id.certificate.get()), 1);
    X509_NAME* name = X509_get_subject_name(id.certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
    X509_set_issuer_name(id.certificate.get(), name);
    X509_gmtime_adj(X509_getm_notBefore(id.certificate.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(id.certificate.get()), 86400);
    X509_set_pubkey(id.certificate.get(), id.private_key.get());
    X509_sign(id.certificate.get(), id.private_key.get(), EVP_sha256());
    return id;
}

class FuzzKeys final : public KeyProvider {
public:
    std::vector<Identity> decryption_identities() override {
        static const Identity identity = make_identity();
        std::vector<Identity> out(1);
        out[0].certificate = ossl::up_ref(identity.certificate.get());
        EVP_PKEY_up_ref(identity.private_key.get());
        out[0].private_key.reset(identity.private_key.get());
        return out;
    }
    std::vector<ossl::X509Ptr> trust_anchors() override { return {}; }
    std::vector<ossl::X509Ptr> intermediates() override { return {}; }
    std::vector<ossl::X509CrlPtr> crls() override { return {}; }
    void harvest(const Harvest&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        log::set_level(log::Level::Off);
        return true;
    }();
    (void)quiet;
    const std::string_view message(reinterpret_cast<const char*>(data), size);
    FuzzKeys keys;
    try {
        (void)inspect(message);
    } catch (const Error&) {
    }
    try {
        (void)decrypt(message, keys);
    } catch (const Error&) {
    }
    return 0;
}
