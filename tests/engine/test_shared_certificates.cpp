// SPDX-License-Identifier: MIT
// A SignedData parsed with its certificates taken from the process's cache gives the object
// parsing it whole gives: both length encodings, attached and detached content, every byte of the
// object changed, taken out or cut short, a field put in anywhere. Shapes the shortcut does not
// take are parsed whole, and the cache keeps one object per DER, within its bound.
#include <doctest/doctest.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "engine/ber.h"
#include "engine/certificate_cache.h"
#include "engine/der.h"
#include "support.h"
#include "util/error.h"

using namespace test;

namespace {

// SignedData by alice with her intermediate: definite-length DER (as `openssl cms` writes) or
// streamed indefinite-length BER, with the content inside or detached.
std::string signed_by_alice(std::string_view content, bool streamed, bool detached) {
    const Identity alice = load_identity("alice");
    ossl::X509StackPtr chain(sk_X509_new_null());
    for (const auto& cert : alice.chain)
        sk_X509_push(chain.get(), ossl::up_ref(cert.get()).release());
    const ossl::BioPtr in = ossl::memory_bio(content);
    const unsigned flags =
        CMS_BINARY | (streamed ? CMS_STREAM : 0u) | (detached ? CMS_DETACHED : 0u);
    const ossl::CmsPtr cms(
        CMS_sign(alice.certificate.get(), alice.private_key.get(), chain.get(), in.get(), flags));
    return cms_output(cms.get(), in.get(), flags);
}

std::string encoded(CMS_ContentInfo* cms) {
    unsigned char* out = nullptr;
    const int n = i2d_CMS_ContentInfo(cms, &out);
    if (n <= 0) {
        ERR_clear_error();
        return "(not encodable)";
    }
    std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    return der;
}

// OpenSSL's parse of the whole object, re-encoded; empty when it refuses the object.
std::string parsed_whole(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    const ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    ERR_clear_error();
    return cms ? encoded(cms.get()) : std::string();
}

// The same through read_cms, which takes the certificates from the cache where it can; empty when
// it refuses the object (always as a malformed message).
std::string parsed_by_host(std::string_view der) {
    try {
        const ossl::CmsPtr cms = read_cms(der);
        return encoded(cms.get());
    } catch (const smime::Error& e) {
        CHECK(e.code() == smime::Code::BadMessage);
        return std::string();
    }
}

std::vector<X509*> certificates_of(CMS_ContentInfo* cms) {
    const ossl::X509StackPtr certs(CMS_get1_certs(cms));
    std::vector<X509*> out;
    for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i)
        out.push_back(sk_X509_value(certs.get(), i));
    return out;  // the CMS object still holds each
}

std::string der_of(X509* cert) {
    unsigned char* out = nullptr;
    const int n = i2d_X509(cert, &out);
    REQUIRE(n > 0);
    std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    return der;
}

std::string pki_der(const std::string& name) {
    const ossl::X509Ptr cert = load_cert(pki_file(name));
    return der_of(cert.get());
}

// A degenerate SignedData (no signers) with `certificates` as the contents of its certificates
// field, or without the field when nullopt.
// `after` goes right after the certificates field.
std::string certs_only(std::optional<std::string> certificates, std::string_view after = "") {
    const std::string signed_oid = tlv(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02");
    const std::string data_oid = tlv(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01");
    std::string fields = tlv(0x02, "\x01") + tlv(0x31, "") + tlv(0x30, data_oid);
    if (certificates) fields += tlv(0xa0, *certificates);
    fields.append(after);
    fields += tlv(0x31, "");
    return tlv(0x30, signed_oid + tlv(0xa0, tlv(0x30, fields)));
}

// A self-signed P-256 certificate with serial `serial`.
ossl::X509Ptr small_certificate(long serial) {
    static const ossl::PKeyPtr key(EVP_EC_gen("P-256"));
    REQUIRE(key);
    ossl::X509Ptr cert(X509_new());
    REQUIRE(cert);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("cache test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    return cert;
}

}  // namespace

TEST_CASE("a SignedData parses with cached certificates to what parsing it whole gives") {
    const std::string content = message("alice");
    for (const bool streamed : {false, true}) {
        for (const bool detached : {false, true}) {
            CAPTURE(streamed);
            CAPTURE(detached);
            const std::string der = signed_by_alice(content, streamed, detached);
            const auto taken = detach_certificates(der);
            REQUIRE(taken);
            CHECK(taken->certificates.size() == 2);  // alice and her intermediate
            CHECK(taken->structure.size() < der.size());
            CHECK(parsed_by_host(der) == parsed_whole(der));

            // The objects come from the cache: a second message shares them, in the same order.
            const ossl::CmsPtr first = read_cms(der);
            const ossl::CmsPtr second = read_cms(der);
            const std::vector<X509*> a = certificates_of(first.get());
            const std::vector<X509*> b = certificates_of(second.get());
            REQUIRE(a.size() == 2);
            CHECK(a == b);
            CHECK(der_of(a[0]) == taken->certificates[0]);
            CHECK(der_of(a[1]) == taken->certificates[1]);
            const std::string alice = pki_der("alice.pem");
            CHECK((der_of(a[0]) == alice || der_of(a[1]) == alice));
        }
    }
}

TEST_CASE(
    "taking the certificates out redoes every enclosing length, across a length-of-length step") {
    // The object's lengths cross 65,536 (two length octets to three) somewhere in this range,
    // before or after the certificates (some 2 KB) are taken out.
    const std::string base = message("alice");
    for (std::size_t size = 61000; size <= 66000; size += 250) {
        CAPTURE(size);
        std::string content = base;
        content.append(size - base.size(), 'x');
        const std::string der = signed_by_alice(content, false, false);
        const auto taken = detach_certificates(der);
        REQUIRE(taken);
        // What is left parses, without certificates, and re-encodes to itself.
        CHECK(parsed_whole(taken->structure) == taken->structure);
        CHECK(parsed_by_host(der) == parsed_whole(der));
    }
}

TEST_CASE("shapes the shortcut does not take are parsed whole, with the same result") {
    const std::string alice = pki_der("alice.pem");
    const std::string intermediate = pki_der("intermediate.pem");
    SUBCASE("the same certificate twice: both kept, as OpenSSL keeps them") {
        const std::string der = certs_only(alice + intermediate + alice);
        CHECK(detach_certificates(der));
        CHECK(parsed_by_host(der) == parsed_whole(der));
        const ossl::CmsPtr cms = read_cms(der);
        CHECK(certificates_of(cms.get()).size() == 3);
    }
    SUBCASE("another kind of CertificateChoices beside a certificate") {
        const std::string other =
            tlv(0xa3, tlv(0x06, "\x2b\x06\x01\x04\x01\x82\x37\x01") + tlv(0x04, "other"));
        const std::string der = certs_only(alice + other);
        CHECK_FALSE(detach_certificates(der));
        CHECK(parsed_by_host(der) == parsed_whole(der));
    }
    SUBCASE("an entry that is not a certificate: refused either way") {
        const std::string der = certs_only(alice + tlv(0x30, tlv(0x02, "\x01")));
        CHECK(detach_certificates(der));
        CHECK(parsed_whole(der).empty());
        CHECK_THROWS_AS(read_cms(der), smime::Error);
    }
    SUBCASE("an empty certificates field, and none") {
        for (const auto& der : {certs_only(std::string()), certs_only(std::nullopt)}) {
            CHECK_FALSE(detach_certificates(der));
            CHECK(!parsed_whole(der).empty());
            CHECK(parsed_by_host(der) == parsed_whole(der));
        }
    }
    SUBCASE("a second field tagged [0] after the certificates: refused either way") {
        // It would take the removed field's place; OpenSSL refuses the whole object.
        for (const std::string_view second :
             {std::string_view("\xa0\x00", 2), std::string_view("\x80\x00", 2),
              std::string_view("\xbf\x00\x00", 3), std::string_view("\xa0\x80\x00\x00", 4)}) {
            const std::string der = certs_only(alice, second);
            CHECK_FALSE(detach_certificates(der));
            CHECK(parsed_whole(der).empty());
            CHECK_THROWS_AS(read_cms(der), smime::Error);
        }
        // The same in a message alice signed (streamed: no enclosing length to redo).
        const std::string der = signed_by_alice(message("alice"), true, false);
        const auto taken = detach_certificates(der);
        REQUIRE(taken);
        const std::string_view last = taken->certificates.back();
        auto end = static_cast<std::size_t>(last.data() + last.size() - der.data());
        if (der[end] == 0) end += 2;  // the field's own end-of-contents
        REQUIRE((der[end] == '\xa1' || der[end] == '\x31'));
        const std::string crafted =
            der.substr(0, end) + std::string("\xa0\x00", 2) + der.substr(end);
        CHECK_FALSE(detach_certificates(crafted));
        CHECK(parsed_whole(crafted).empty());
        CHECK_THROWS_AS(read_cms(crafted), smime::Error);
    }
    SUBCASE("crls after the certificates") {
        const std::string der = certs_only(alice, tlv(0xa1, ""));
        CHECK(detach_certificates(der));
        CHECK(!parsed_whole(der).empty());
        CHECK(parsed_by_host(der) == parsed_whole(der));
    }
    SUBCASE("more certificates than the shortcut takes") {
        std::string many;
        for (long i = 0; i <= static_cast<long>(kMaxDetachedCertificates); ++i) {
            const ossl::X509Ptr cert = small_certificate(1000 + i);
            many += der_of(cert.get());
        }
        const std::string der = certs_only(many);
        CHECK_FALSE(detach_certificates(der));
        CHECK(parsed_by_host(der) == parsed_whole(der));
    }
}

TEST_CASE(
    "every byte of the structure changed or taken out, every length cut short, a field put in "
    "anywhere: the shortcut agrees with the whole parse") {
    for (const bool streamed : {false, true}) {
        CAPTURE(streamed);
        const std::string der =
            signed_by_alice("Content-Type: text/plain\r\n\r\nhi\r\n", streamed, true);
        const auto taken = detach_certificates(der);
        REQUIRE(taken);
        // Inside a certificate both parsers run the same certificate template (and parsing one
        // costs a public key decode): there, its first and last 16 bytes (tag, lengths, the
        // first fields) and every 37th byte between.
        const auto sampled = [&](std::size_t i) {
            for (const std::string_view cert : taken->certificates) {
                const auto start = static_cast<std::size_t>(cert.data() - der.data());
                if (i >= start + 16 && i + 16 < start + cert.size()) return (i - start) % 37 == 0;
            }
            return true;
        };
        std::size_t checked = 0;
        std::size_t disagreements = 0;
        std::size_t first_disagreement = der.size();
        const auto compare = [&](std::string_view variant, std::size_t where) {
            ++checked;
            if (parsed_by_host(variant) == parsed_whole(variant)) return;
            ++disagreements;
            first_disagreement = std::min(first_disagreement, where);
        };
        for (std::size_t i = 0; i < der.size(); ++i) {
            if (!sampled(i)) continue;
            for (const int flip : {0x01, 0x80, 0xff}) {
                std::string variant = der;
                variant[i] = static_cast<char>(variant[i] ^ flip);
                compare(variant, i);
            }
            compare(std::string_view(der).substr(0, i), i);
            // A byte taken out, and an empty [0] element put in (a field out of its place).
            compare(der.substr(0, i) + der.substr(i + 1), i);
            compare(der.substr(0, i) + std::string("\xa0\x00", 2) + der.substr(i), i);
        }
        CAPTURE(checked);
        CAPTURE(first_disagreement);
        CHECK(checked > 1000);
        CHECK(disagreements == 0);
    }
}

TEST_CASE(
    "the certificate cache: one object per DER, nothing that is not exactly a certificate, "
    "bounded") {
    const std::string alice = pki_der("alice.pem");
    const ossl::X509Ptr one = cached_certificate(alice);
    const ossl::X509Ptr two = cached_certificate(alice);
    REQUIRE(one);
    CHECK(one.get() == two.get());
    CHECK(der_of(one.get()) == alice);
    CHECK(cached_certificate(pki_der("bob.pem")).get() != one.get());

    CHECK_FALSE(cached_certificate(alice + "x"));  // trailing bytes
    CHECK_FALSE(cached_certificate(alice.substr(0, alice.size() - 1)));
    CHECK_FALSE(cached_certificate(tlv(0x30, tlv(0x02, "\x01"))));
    CHECK_FALSE(cached_certificate(""));

    // Many distinct certificates: the oldest go, the count stays within the bound.
    for (long i = 0; i < static_cast<long>(kMaxCachedCertificates) + 8; ++i) {
        const ossl::X509Ptr cert = small_certificate(i + 1);
        const ossl::X509Ptr cached = cached_certificate(der_of(cert.get()));
        REQUIRE(cached);
        CHECK(cached_certificate_count() <= kMaxCachedCertificates);
    }
    const ossl::X509Ptr again = cached_certificate(alice);
    CHECK(again.get() != one.get());  // parsed anew: the first entry was evicted
    CHECK(der_of(again.get()) == alice);
}
