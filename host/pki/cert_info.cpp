// SPDX-License-Identifier: MIT
// The one certificate description, from OpenSSL's X509 API.
#include "pki/cert_info.h"

#include "util/ossl.h"
#include "util/text.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <string_view>

namespace smime::pki {
namespace {

// RFC 2253 with non-ASCII characters as UTF-8 (readable names); a name that does not decode is
// shown with every such byte escaped instead, so a reply never carries broken UTF-8.
std::string name_string(const X509_NAME* name) {
    for (const unsigned long flags : {XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB, XN_FLAG_RFC2253}) {
        const ossl::BioPtr bio(BIO_new(BIO_s_mem()));
        if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) continue;
        std::string text = ossl::bio_contents(bio.get());
        if (text::valid_utf8(text)) return text;
    }
    ERR_clear_error();
    return {};
}

std::string lowercase(const unsigned char* data, int size) {
    return text::ascii_lower(
        {reinterpret_cast<const char*>(data), static_cast<std::size_t>(std::max(size, 0))});
}

void free_openssl_string(char* p) { OPENSSL_free(p); }

}  // namespace

std::vector<std::string> emails(X509* cert) {
    std::vector<std::string> out;
    const auto add = [&out](std::string address) {
        if (!address.empty() && std::find(out.begin(), out.end(), address) == out.end())
            out.push_back(std::move(address));
    };
    const ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
            if (name->type == GEN_EMAIL) {
                add(lowercase(ASN1_STRING_get0_data(name->d.rfc822Name),
                              ASN1_STRING_length(name->d.rfc822Name)));
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
    return text::hex(md, n);
}

std::string serial_hex(const ASN1_INTEGER* serial) {
    const std::unique_ptr<BIGNUM, ossl::Deleter<BIGNUM, BN_free>> bn(
        ASN1_INTEGER_to_BN(serial, nullptr));
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

CertInfo describe(X509* cert, std::time_t now) {
    CertInfo info;
    info.fingerprint = fingerprint_sha256(cert);
    info.emails = emails(cert);
    info.subject = name_string(X509_get_subject_name(cert));
    info.issuer = name_string(X509_get_issuer_name(cert));
    info.serial = serial_hex(X509_get0_serialNumber(cert));
    info.not_before = to_time_t(X509_get0_notBefore(cert)).value_or(0);
    info.not_after = to_time_t(X509_get0_notAfter(cert)).value_or(0);

    if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
        info.key_bits = EVP_PKEY_get_bits(key);
        const int id = EVP_PKEY_get_base_id(key);
        if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) info.key_type = "RSA";
        else if (id == EVP_PKEY_EC) info.key_type = "EC";
        else if (id == EVP_PKEY_ED25519) info.key_type = "Ed25519";
        else if (id == EVP_PKEY_ED448) info.key_type = "Ed448";
        else if (id == EVP_PKEY_DSA) info.key_type = "DSA";
        else if (const char* sn = OBJ_nid2sn(id)) info.key_type = sn;
        if (id == EVP_PKEY_EC) {
            char curve[64] = {0};
            std::size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &len))
                info.curve = curve;
        }
    }
    int md_nid = NID_undef, pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid) &&
        md_nid != NID_undef) {
        const char* sn = OBJ_nid2sn(md_nid);
        info.signature_digest = lowercase(reinterpret_cast<const unsigned char*>(sn),
                                          static_cast<int>(std::char_traits<char>::length(sn)));
    }

    const uint32_t flags = X509_get_extension_flags(cert);
    info.is_ca = (flags & EXFLAG_CA) != 0;
    info.self_signed = (flags & EXFLAG_SS) != 0;
    const uint32_t ku = X509_get_key_usage(cert);  // UINT32_MAX when absent
    const bool has_ku = (flags & EXFLAG_KUSAGE) != 0;
    info.usable_for_signing = !has_ku || (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
    const bool rsa = info.key_type == "RSA", ec = info.key_type == "EC";
    info.usable_for_encryption = (rsa && (!has_ku || (ku & KU_KEY_ENCIPHERMENT))) ||
                                 (ec && (!has_ku || (ku & KU_KEY_AGREEMENT)));
    const bool has_eku = (flags & EXFLAG_XKUSAGE) != 0;
    info.email_protection =
        !has_eku || (X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU));

    auto warn = [&](const char* code, std::string message) {
        info.warnings.push_back({code, std::move(message)});
    };
    if (has_eku && !info.email_protection)
        warn("no_email_protection",
             "the certificate's extended key usage does not include emailProtection");
    if (info.emails.empty()) warn("no_email_address", "the certificate names no e-mail address");
    if (has_ku && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        warn("key_usage_no_signing",
             "key usage does not allow digitalSignature: mail cannot be signed");
    if (has_ku && !info.usable_for_encryption && (rsa || ec))
        warn("key_usage_no_encryption",
             rsa ? "key usage does not allow keyEncipherment: mail cannot be encrypted to it"
                 : "key usage does not allow keyAgreement: mail cannot be encrypted to it");
    if (now > info.not_after)
        warn("expired", "the certificate expired on " + format_time(info.not_after));
    if (now < info.not_before)
        warn("not_yet_valid", "the certificate is valid only from " + format_time(info.not_before));
    if (rsa && info.key_bits < 2048)
        warn("weak_key",
             "RSA key of " + std::to_string(info.key_bits) + " bits; at least 2048 are needed");
    if (info.signature_digest == "sha1" || info.signature_digest == "md5")
        warn("weak_signature", "the certificate is signed with " + info.signature_digest);
    ERR_clear_error();
    return info;
}

nlohmann::json to_json(const CertInfo& info) {
    nlohmann::json warnings = nlohmann::json::array();
    for (const auto& w : info.warnings)
        warnings.push_back({{"code", w.code}, {"message", w.message}});
    nlohmann::json key = {{"type", info.key_type}, {"bits", info.key_bits}};
    if (!info.curve.empty()) key["curve"] = info.curve;
    return {{"fingerprint", info.fingerprint},
            {"emails", info.emails},
            {"subject", info.subject},
            {"issuer", info.issuer},
            {"serial", info.serial},
            {"not_before", format_time(info.not_before)},
            {"not_after", format_time(info.not_after)},
            {"key", std::move(key)},
            {"warnings", std::move(warnings)}};
}

}  // namespace smime::pki
