// SPDX-License-Identifier: MIT
// Certificate parsing and description with OpenSSL's X509 API.
#include "keystore/certificate_info.h"

#include "pki/cert_info.h"
#include "util/base64.h"
#include "util/error.h"

#include <openssl/pem.h>

namespace smime::certinfo {
namespace {

bool looks_like_pem(std::string_view text) {
    return text.find("-----BEGIN") != std::string_view::npos;
}

}  // namespace

std::vector<ossl::X509Ptr> parse_all(std::string_view text) {
    std::vector<ossl::X509Ptr> out;
    if (looks_like_pem(text)) {
        auto bio = ossl::memory_bio(text);
        while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
            out.emplace_back(cert);
        ERR_clear_error();  // the loop ends on "no start line"
        if (out.empty()) throw Error(Code::BadCertificate, "no certificate in the PEM text");
        return out;
    }
    std::string der_bytes;
    std::string_view bytes = text;
    // DER starts with a SEQUENCE tag; anything else is taken as base64 of DER.
    if (text.empty() || static_cast<unsigned char>(text[0]) != 0x30) {
        if (!base64::decode_lenient_append(text, der_bytes))
            throw Error(Code::BadCertificate, "certificate is neither PEM, DER nor base64 DER");
        bytes = der_bytes;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(bytes.size()));
    if (!cert) {
        ERR_clear_error();
        throw Error(Code::BadCertificate, "the certificate cannot be parsed");
    }
    out.emplace_back(cert);
    return out;
}

ossl::X509Ptr parse(std::string_view text) {
    auto all = parse_all(text);
    return std::move(all.front());
}

std::string der(X509* cert) {
    unsigned char* buf = nullptr;
    const int n = i2d_X509(cert, &buf);
    if (n <= 0) throw Error(Code::BadCertificate, "cannot encode certificate");
    std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
    OPENSSL_free(buf);
    return out;
}

std::string pem(X509* cert) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    return ossl::bio_contents(bio.get());
}

std::string fingerprint(X509* cert) { return pki::fingerprint_sha256(cert); }

std::vector<std::string> emails(X509* cert) { return pki::emails(cert); }

std::int64_t name_hash(const X509_NAME* name) {
    int ok = 0;
    const unsigned long hash = X509_NAME_hash_ex(name, nullptr, nullptr, &ok);
    if (!ok) throw Error(Code::Internal, "a certificate name cannot be hashed");
    return static_cast<std::int64_t>(hash);
}

CertificateInfo describe(X509* cert, std::time_t now) { return pki::describe(cert, now); }

std::string iso8601(std::time_t t) { return pki::format_time(t); }

nlohmann::json to_json(const CertificateInfo& info) { return pki::to_json(info); }

}  // namespace smime::certinfo
