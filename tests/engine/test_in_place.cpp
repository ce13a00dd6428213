// SPDX-License-Identifier: MIT
// Decryption of a message handed over (engine::decrypt taking its buffer): the encrypted body is
// decoded where it lies and the content decrypted over it. Checked against the copying path for
// both length encodings (definite, as `openssl cms` writes; indefinite, as streaming producers
// write), every length-of-length step, both ciphers and the transfer encodings; and the parts it
// rests on: detaching the encrypted content and the sink that must not overtake its source. And
// encryption of a message handed over, which wipes it (giving its memory back) as it reads it.
#include <doctest/doctest.h>
#include <openssl/cms.h>

#include <algorithm>

#include "engine/ber.h"
#include "engine/der.h"
#include "mime/encoding.h"
#include "support.h"
#include "util/error.h"

using namespace test;

namespace {

// EnvelopedData (CBC) or AuthEnvelopedData (GCM) for alice, definite-length DER or streamed
// indefinite-length BER.
std::string enveloped_for_alice(std::string_view plaintext, const EVP_CIPHER* cipher,
                                bool streamed) {
    ossl::X509StackPtr certs(sk_X509_new_null());
    sk_X509_push(certs.get(), load_cert(pki_file("alice.pem")).release());
    const ossl::BioPtr in = ossl::memory_bio(plaintext);
    const unsigned flags = CMS_BINARY | (streamed ? CMS_STREAM : 0u);
    const ossl::CmsPtr cms(CMS_encrypt(certs.get(), in.get(), cipher, flags));
    return cms_output(cms.get(), in.get(), flags);
}

std::string wrapped(std::string_view der, bool gcm, bool binary) {
    std::string out =
        std::string(
            "From: alice@example.test\r\nTo: alice@example.test\r\n"
            "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; "
            "smime-type=") +
        (gcm ? "authEnveloped-data" : "enveloped-data") +
        "; name=smime.p7m\r\nContent-Transfer-Encoding: " + (binary ? "binary" : "base64") +
        "\r\n\r\n";
    if (binary) out.append(der);
    else smime::mime::append_base64_lines(der, out);
    return out;
}

}  // namespace

TEST_CASE("a message handed over decrypts in its own buffer exactly as a copy does") {
    TestKeys keys = alice_keys();
    // Content sizes around each step of a DER length (short form, one, two and three length
    // bytes) of the content and of the elements around it.
    for (const std::size_t size :
         {std::size_t{1}, std::size_t{90}, std::size_t{150}, std::size_t{200}, std::size_t{65400},
          std::size_t{65600}, std::size_t{3u << 20}}) {
        std::string body(size, 'x');
        for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
        const std::string entity = "Content-Type: text/plain\r\n\r\n" + body;
        for (const bool gcm : {false, true}) {
            for (const bool streamed : {false, true}) {
                for (const bool binary : {false, true}) {
                    CAPTURE(size);
                    CAPTURE(gcm);
                    CAPTURE(streamed);
                    CAPTURE(binary);
                    const std::string message =
                        wrapped(enveloped_for_alice(
                                    entity, gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc(), streamed),
                                gcm, binary);
                    const Opened copied = decrypt(message, keys);
                    const Opened in_place = decrypt(SecureString(message), keys);
                    REQUIRE(copied.status.layers.size() == 1);
                    REQUIRE(in_place.status.layers.size() == 1);
                    CHECK(in_place.status.layers[0].decrypted);
                    const std::string opened = in_place.joined();
                    CHECK(opened == copied.joined());
                    CHECK(opened.size() > body.size());
                    CHECK(opened.compare(opened.size() - body.size(), body.size(), body) == 0);
                }
            }
        }
    }
}

TEST_CASE("a message handed over that fails to decrypt fails as a copy does") {
    TestKeys keys = alice_keys();
    const std::string entity = "Content-Type: text/plain\r\n\r\nsecret\r\n";
    std::string der = enveloped_for_alice(entity, EVP_aes_256_gcm(), false);
    der[der.size() - 40] ^= 1;  // in the ciphertext or the tag: authentication fails
    const std::string message = wrapped(der, true, false);
    for (const bool owned : {false, true}) {
        CAPTURE(owned);
        try {
            if (owned) (void)decrypt(SecureString(message), keys);
            else (void)decrypt(message, keys);
            FAIL("decrypted a changed message");
        } catch (const smime::Error& e) {
            CHECK(e.code() == smime::Code::DecryptFailed);
        }
    }
}

TEST_CASE("detaching the encrypted content leaves the rest of a DER object as DER") {
    for (const std::size_t size : {std::size_t{16}, std::size_t{100}, std::size_t{300},
                                   std::size_t{70000}, std::size_t{17u << 20}}) {
        CAPTURE(size);
        const std::string der =
            enveloped_for_alice(std::string(size, 'p'), EVP_aes_256_cbc(), false);
        const auto detached = smime::engine::detach_encrypted_content(der);
        REQUIRE(detached);
        CHECK(smime::engine::names_enveloped_data(der.substr(0, 24)));
        // The ciphertext is the content OpenSSL finds in the whole object.
        const ossl::CmsPtr whole = smime::engine::read_cms(der);
        ASN1_OCTET_STRING** content = CMS_get0_content(whole.get());
        REQUIRE((content && *content));
        std::string ciphertext;
        for (const std::string_view piece : detached->ciphertext) ciphertext.append(piece);
        CHECK(ciphertext ==
              std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*content)),
                               static_cast<std::size_t>(ASN1_STRING_length(*content))));
        // What is left parses, and encodes back to the same bytes: every length was redone.
        const ossl::CmsPtr rest = smime::engine::read_cms(detached->structure);
        CHECK(smime::engine::write_der(rest.get()) == detached->structure);
        CHECK(detached->structure.size() < 600);
    }
    CHECK_FALSE(
        smime::engine::names_enveloped_data(std::string_view("\x30\x80\x06\x09\x2a\x86\x48"
                                                             "\x86\xf7\x0d\x01\x07\x02",
                                                             13)));  // signed-data
    CHECK_FALSE(smime::engine::names_enveloped_data("\x30"));
}

TEST_CASE("only an (Auth)EnvelopedData of the standard shape has its content detached") {
    using smime::engine::detach_encrypted_content;
    const std::string enveloped_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", 11);
    const std::string signed_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 11);
    const std::string data_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01", 11);
    const std::string head = tlv(0x02, "\x00") + tlv(0x31, "");  // version, recipientInfos
    const std::string algorithm = tlv(0x30, tlv(0x06, "\x60\x86\x48\x01\x65\x03\x04\x01\x2a"));
    const auto object = [&](const std::string& oid, const std::string& eci_tail,
                            unsigned char explicit_tag = 0xa0) {
        return tlv(0x30, oid + tlv(explicit_tag,
                                   tlv(0x30, head + tlv(0x30, data_oid + algorithm + eci_tail))));
    };
    const std::string ciphertext(300, 'c');  // long enough that every length changes form
    const std::string field = tlv(0x80, ciphertext);

    const std::string whole = object(enveloped_oid, field);
    const auto detached = detach_encrypted_content(whole);  // views into `whole`
    REQUIRE(detached);
    REQUIRE(detached->ciphertext.size() == 1);
    CHECK(detached->ciphertext[0] == ciphertext);
    CHECK(detached->structure == object(enveloped_oid, ""));  // the same object without it

    // Anything else is left whole to OpenSSL, which judges it as it is.
    CHECK_FALSE(detach_encrypted_content(object(signed_oid, field)));
    CHECK_FALSE(detach_encrypted_content(object(enveloped_oid, field + tlv(0x80, "second"))));
    CHECK_FALSE(detach_encrypted_content(object(enveloped_oid, field + tlv(0x04, "junk"))));
    CHECK_FALSE(detach_encrypted_content(object(enveloped_oid, field, 0xa1)));
    CHECK_FALSE(detach_encrypted_content(object(enveloped_oid, tlv(0x04, ciphertext))));
}

TEST_CASE("the in-place sink never writes over bytes its source has still to yield") {
    std::string buffer(32, '.');
    const std::string_view unread(buffer.data() + 8, 8);
    const ossl::BioPtr source = smime::engine::views_source({unread});
    std::size_t written = 0;
    const ossl::BioPtr sink = smime::engine::front_sink(buffer.data(), 24, written, source.get());
    CHECK(BIO_write(sink.get(), "01234567", 8) == 8);  // up to the first unread byte
    CHECK(BIO_write(sink.get(), "8", 1) == -1);        // would overwrite it
    char read[4];
    CHECK(BIO_read(source.get(), read, 4) == 4);
    CHECK(BIO_write(sink.get(), "89ab", 4) == 4);
    CHECK(BIO_write(sink.get(), "c", 1) == -1);
    CHECK(BIO_read(source.get(), read, 4) == 4);  // the source is spent: only the capacity counts
    CHECK(BIO_write(sink.get(), "cdefghijklm", 11) == 11);
    CHECK(BIO_write(sink.get(), "no", 2) == -1);  // past the capacity
    CHECK(BIO_write(sink.get(), "n", 1) == 1);
    CHECK(written == 24);
    CHECK(buffer.substr(0, 24) == "0123456789abcdefghijklmn");
    CHECK(buffer.substr(24) == "........");
}

TEST_CASE(
    "a message handed to encryption, or to signing and encryption, is wiped as it is read or "
    "copied, and opens as a copy does") {
    TestKeys keys = alice_keys();
    const Identity alice = load_identity("alice");
    std::string body;
    for (int line = 0; body.size() < (6u << 20); ++line)
        body += "line " + std::to_string(line) + " of a long message, canonical CRLF\r\n";
    for (const bool sign : {false, true}) {
        for (const bool canonical : {true, false}) {
            CAPTURE(sign);
            CAPTURE(canonical);
            EncryptOptions options;
            if (sign) options.sign_with = &alice;
            std::string text = message("alice", body);
            if (!canonical) text += "a bare LF\n";  // encrypted (or signed) from a canonical copy
            SecureString consumed(text);
            const std::string encrypted =
                encrypt(consumed, recipients(recipient("alice")), options);
            // Let go: read in place (or copied into the signed entity) and given back as it went,
            // or let go whole as soon as a copy was made. ReleaseBehind's own test below checks
            // what giving back wipes.
            CHECK(consumed.empty());
            CHECK(consumed.str().capacity() < 64);
            const Opened opened = decrypt(encrypted, keys);
            const std::string copied = encrypt(text, recipients(recipient("alice")), options);
            if (sign) CHECK(verdict(opened.status) == "good");
            else CHECK(opened.joined() == decrypt(copied, keys).joined());
            CHECK(opened.joined().find(body) != std::string::npos);  // every MiB of it
        }
    }
}

TEST_CASE(
    "ReleaseBehind wipes what was read in steps ending on 64 KiB boundaries, all at the end") {
    // Not 64 KiB aligned at either end, as a body inside a message is not.
    const std::size_t size = (5u << 20) + 12345;
    std::string storage(size + 2 * 4096, 'x');
    char* begin = storage.data() + 4096 + 17;
    const auto wiped_upto = [&] {
        std::size_t n = 0;
        while (n < size && begin[n] == 0) ++n;
        return n;
    };
    ReleaseBehind release(begin, size);
    release.done_upto(ReleaseBehind::kReleaseStep - 1);  // less than a step: nothing yet
    CHECK(wiped_upto() == 0);
    release.done_upto(ReleaseBehind::kReleaseStep + 100);
    const std::size_t first = wiped_upto();
    CHECK(first > 0);
    CHECK(first <= ReleaseBehind::kReleaseStep + 100);
    CHECK(reinterpret_cast<std::uintptr_t>(begin + first) % (64u << 10) == 0);
    CHECK(begin[first] == 'x');
    CHECK_FALSE(release.all_released());
    release.done_upto(size);
    CHECK(wiped_upto() == size);
    CHECK(release.all_released());
    CHECK(begin[-1] == 'x');    // nothing before
    CHECK(begin[size] == 'x');  // nothing after
}

TEST_CASE("a buffer partly wiped already is wiped in the rest and freed") {
    SecureString buffer(std::string(100000, 's'));
    char* data = buffer.mutable_str().data();
    std::fill(data + 1000, data + 90000, '\0');  // as wipe_and_release leaves it
    buffer.wipe_rest_and_free(std::string_view(data + 1000, 89000));
    CHECK(buffer.empty());
    CHECK(buffer.str().capacity() < 64);
}
