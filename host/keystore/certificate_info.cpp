// SPDX-License-Identifier: MIT
// Certificate parsing and description with OpenSSL's X509 API.
#include "keystore/certificate_info.h"

#include "pki/cert_info.h"
#include "util/base64.h"
#include "util/error.h"

#include <openssl/pem.h>

#include <algorithm>
#include <cctype>

namespace smime::certinfo {
namespace {

std::string name_text(const X509_NAME* name) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return ossl::bio_contents(bio.get());
}

bool looks_like_pem(std::string_view text) { return text.find("-----BEGIN") != std::string_view::npos; }

}  // namespace

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<ossl::X509Ptr> parse_all(std::string_view text) {
    std::vector<ossl::X509Ptr> out;
    if (looks_like_pem(text)) {
        auto bio = ossl::memory_bio(text);
        while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
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

CertificateInfo describe(X509* cert, std::time_t now) {
    CertificateInfo info;
    info.fingerprint = fingerprint(cert);
    info.subject = name_text(X509_get_subject_name(cert));
    info.issuer = name_text(X509_get_issuer_name(cert));
    info.serial = pki::serial_hex(X509_get0_serialNumber(cert));
    info.not_before = pki::to_time_t(X509_get0_notBefore(cert)).value_or(0);
    info.not_after = pki::to_time_t(X509_get0_notAfter(cert)).value_or(0);
    info.emails = emails(cert);

    if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
        info.key_bits = EVP_PKEY_get_bits(key);
        const int id = EVP_PKEY_get_base_id(key);
        if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) info.key_type = "RSA";
        else if (id == EVP_PKEY_EC) info.key_type = "EC";
        else if (id == EVP_PKEY_ED25519) info.key_type = "Ed25519";
        else if (id == EVP_PKEY_ED448) info.key_type = "Ed448";
        else if (id == EVP_PKEY_DSA) info.key_type = "DSA";
        else info.key_type = OBJ_nid2sn(id);
        if (id == EVP_PKEY_EC) {
            char curve[64] = {0};
            std::size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &len)) info.curve = curve;
        }
    }
    int md_nid = NID_undef, pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid) && md_nid != NID_undef)
        info.signature_digest = lowercase(OBJ_nid2sn(md_nid));

    const uint32_t flags = X509_get_extension_flags(cert);
    info.is_ca = (flags & EXFLAG_CA) != 0;
    info.self_signed = (flags & EXFLAG_SS) != 0;
    const uint32_t ku = X509_get_key_usage(cert);  // UINT32_MAX when absent
    const bool has_ku = (flags & EXFLAG_KUSAGE) != 0;
    info.usable_for_signing = !has_ku || (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
    const bool rsa = info.key_type == "RSA", ec = info.key_type == "EC";
    info.usable_for_encryption =
        (rsa && (!has_ku || (ku & KU_KEY_ENCIPHERMENT))) || (ec && (!has_ku || (ku & KU_KEY_AGREEMENT)));
    const bool has_eku = (flags & EXFLAG_XKUSAGE) != 0;
    info.email_protection = !has_eku || (X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU));

    auto warn = [&](const char* code, std::string message) { info.warnings.push_back({code, std::move(message)}); };
    if (has_eku && !info.email_protection)
        warn("no_email_protection", "the certificate's extended key usage does not include emailProtection");
    if (info.emails.empty()) warn("no_email_address", "the certificate names no e-mail address");
    if (has_ku && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        warn("key_usage_no_signing", "key usage does not allow digitalSignature: mail cannot be signed");
    if (has_ku && !info.usable_for_encryption && (rsa || ec))
        warn("key_usage_no_encryption",
             rsa ? "key usage does not allow keyEncipherment: mail cannot be encrypted to it"
                 : "key usage does not allow keyAgreement: mail cannot be encrypted to it");
    if (now > info.not_after) warn("expired", "the certificate expired on " + iso8601(info.not_after));
    if (now < info.not_before) warn("not_yet_valid", "the certificate is valid only from " + iso8601(info.not_before));
    if (rsa && info.key_bits < 2048)
        warn("weak_key", "RSA key of " + std::to_string(info.key_bits) + " bits; at least 2048 are needed");
    if (info.signature_digest == "sha1" || info.signature_digest == "md5")
        warn("weak_signature", "the certificate is signed with " + info.signature_digest);
    ERR_clear_error();
    return info;
}

std::string iso8601(std::time_t t) { return pki::format_time(t); }

nlohmann::json to_json(const CertificateInfo& info) {
    nlohmann::json warnings = nlohmann::json::array();
    for (const auto& w : info.warnings) warnings.push_back({{"code", w.code}, {"message", w.message}});
    nlohmann::json key = {{"type", info.key_type}, {"bits", info.key_bits}};
    if (!info.curve.empty()) key["curve"] = info.curve;
    return {{"fingerprint", info.fingerprint},
            {"emails", info.emails},
            {"subject", info.subject},
            {"issuer", info.issuer},
            {"serial", info.serial},
            {"not_before", iso8601(info.not_before)},
            {"not_after", iso8601(info.not_after)},
            {"key", key},
            {"warnings", warnings}};
}

}  // namespace smime::certinfo
