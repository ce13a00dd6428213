// SPDX-License-Identifier: MIT
// Certificate parsing and description with OpenSSL's X509 API.
#include "keystore/certificate_info.h"

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

std::time_t asn1_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return timegm(&tm);
}

std::string hex(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
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

std::string fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(cert, EVP_sha256(), md, &n);
    return hex(md, n);
}

std::vector<std::string> emails(X509* cert) {
    std::vector<std::string> out;
    auto add = [&](std::string e) {
        e = lowercase(std::move(e));
        if (!e.empty() && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(std::move(e));
    };
    ossl::GeneralNamesPtr names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
            if (gn->type != GEN_EMAIL) continue;
            const ASN1_IA5STRING* s = gn->d.rfc822Name;
            add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            static_cast<std::size_t>(ASN1_STRING_length(s))));
        }
    }
    // RFC 8550 section 3: the subject's emailAddress attribute is legacy but still common.
    const X509_NAME* subject = X509_get_subject_name(cert);
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) >= 0;) {
        const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<std::size_t>(ASN1_STRING_length(s))));
    }
    ERR_clear_error();
    return out;
}

CertificateInfo describe(X509* cert, std::time_t now) {
    CertificateInfo info;
    info.fingerprint = fingerprint(cert);
    info.subject = name_text(X509_get_subject_name(cert));
    info.issuer = name_text(X509_get_issuer_name(cert));
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        char* h = BN_bn2hex(bn);
        info.serial = lowercase(h ? h : "");
        OPENSSL_free(h);
        BN_free(bn);
    }
    info.not_before = asn1_time(X509_get0_notBefore(cert));
    info.not_after = asn1_time(X509_get0_notAfter(cert));
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

std::string iso8601(std::time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

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
