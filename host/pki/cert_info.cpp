// SPDX-License-Identifier: MIT
// Certificate description for status replies and address checks.
#include "pki/cert_info.h"

#include "util/ossl.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace smime::pki {
namespace {

std::string name_string(const X509_NAME* name) {
    const ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
    return ossl::bio_contents(bio.get());
}

std::string hex(const unsigned char* data, std::size_t size) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kHex[data[i] >> 4];
        out[2 * i + 1] = kHex[data[i] & 15];
    }
    return out;
}

std::string lowercase(const unsigned char* data, int size) {
    std::string s(reinterpret_cast<const char*>(data), static_cast<std::size_t>(std::max(size, 0)));
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

void free_openssl_string(char* p) { OPENSSL_free(p); }

}  // namespace

std::vector<std::string> emails(X509* cert) {
    std::vector<std::string> out;
    const auto add = [&out](std::string address) {
        if (!address.empty() && std::find(out.begin(), out.end(), address) == out.end()) out.push_back(std::move(address));
    };
    const ossl::GeneralNamesPtr names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
            if (name->type == GEN_EMAIL) {
                add(lowercase(ASN1_STRING_get0_data(name->d.rfc822Name), ASN1_STRING_length(name->d.rfc822Name)));
            }
        }
    }
    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) {
        const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        add(lowercase(ASN1_STRING_get0_data(value), ASN1_STRING_length(value)));
    }
    return out;
}

std::string fingerprint_sha256(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &n)) return {};
    return hex(md, n);
}

std::string serial_hex(const ASN1_INTEGER* serial) {
    const std::unique_ptr<BIGNUM, ossl::Deleter<BIGNUM, BN_free>> bn(ASN1_INTEGER_to_BN(serial, nullptr));
    if (!bn) return {};
    const std::unique_ptr<char, ossl::Deleter<char, free_openssl_string>> text(BN_bn2hex(bn.get()));
    if (!text) return {};
    return lowercase(reinterpret_cast<const unsigned char*>(text.get()),
                     static_cast<int>(std::char_traits<char>::length(text.get())));
}

std::optional<std::time_t> to_time_t(const ASN1_TIME* t) {
    if (!t) return std::nullopt;
    struct tm tm {};
    if (!ASN1_TIME_to_tm(t, &tm)) return std::nullopt;
    return timegm(&tm);
}

std::string format_time(std::time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

CertInfo describe(X509* cert) {
    CertInfo info;
    info.emails = emails(cert);
    info.subject = name_string(X509_get_subject_name(cert));
    info.issuer = name_string(X509_get_issuer_name(cert));
    info.serial = serial_hex(X509_get0_serialNumber(cert));
    info.fingerprint_sha256 = fingerprint_sha256(cert);
    info.not_before = to_time_t(X509_get0_notBefore(cert));
    info.not_after = to_time_t(X509_get0_notAfter(cert));
    return info;
}

}  // namespace smime::pki
