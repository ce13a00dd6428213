// SPDX-License-Identifier: MIT
// Decryption through CMS_decrypt_set1_pkey_and_peer, which pins the RecipientInfo to the
// identity's certificate and, on a failed key unwrap, continues with a random content key so that
// callers see one failure mode (Bleichenbacher / MMA defence, RFC 3218).
#include "engine/decrypt_enveloped.h"

#include "engine/der.h"
#include "util/error.h"
#include "util/large_buffer.h"
#include "util/log.h"
#include "util/providers.h"

#include <openssl/err.h>

#include <algorithm>
#include <array>

namespace smime::engine {
namespace {

// EnvelopedData (CBC) content has no integrity check. With a wrong content-encryption key (a
// failed key transport yields a random key by design, so that failures cannot be told apart:
// RFC 3218 section 2.3; a wrong-length key likewise) the last block still has valid padding about
// one time in 256, and the "plaintext" is noise. That noise must fail like every other decryption
// failure, while real content of every kind passes:
// - a MIME entity (RFC 8551 section 3.1): its first line is a header field ("Name:") and its
//   header, up to the empty line, has no control characters; the body may be anything at all;
// - text without a MIME header in any 8-bit charset (ISO-8859-x, windows-125x, KOI8-R, UTF-8,
//   ISO-2022 with its escapes), as other tools encrypt a text file: no control characters other
//   than tab, line ends, form feed and escape.
// Each random byte is one of the 28 refused control bytes with probability 28/256, so noise of 64
// bytes passes as text about once in 1,700 (after the 1/256 of valid padding), of 200 bytes once
// in 10^10; a MIME header further needs a field name, a colon and an empty line before any
// control byte. Binary content that is not MIME cannot be told from noise and is refused, but
// only under unauthenticated encryption: AuthEnvelopedData's tag proves the key right.
// No timing oracle: the judgement reads a fixed prefix (64 KiB, or all of a shorter content) in
// one pass without early exit, and runs whether or not the padding was valid, so for a given
// ciphertext length every failure costs the same work.
constexpr std::size_t kJudged = 64 * 1024;
constexpr std::size_t kMaxFieldName = 76;  // RFC 5322 section 2.1.1: a line of 78 with ": "

constexpr std::array<unsigned char, 256> kControl = [] {
    std::array<unsigned char, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = 1;
    for (const unsigned char allowed : {'\t', '\n', '\f', '\r', '\x1b'}) table[allowed] = 0;
    table[0x7f] = 1;
    return table;
}();

// RFC 5322 section 3.6.8: field names are printable ASCII except the colon.
constexpr std::array<unsigned char, 256> kFieldName = [] {
    std::array<unsigned char, 256> table{};
    for (int c = 33; c <= 126; ++c) table[static_cast<std::size_t>(c)] = c != ':';
    return table;
}();

[[noreturn]] void decrypt_failed(const char* where) {
    log::openssl_errors(where);
    throw Error(Code::DecryptFailed, "the message cannot be decrypted");
}

}  // namespace

bool plausible_content(std::string_view content) {
    const std::string_view judged = content.substr(0, kJudged);
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(judged[i]); };
    // The first line starts with a field name and its colon: 0 nothing yet, 1 in the name,
    // 2 colon seen (a field), 3 not a field.
    unsigned name_state = 0;
    const std::size_t name_end = std::min(judged.size(), kMaxFieldName + 1);
    for (std::size_t i = 0; i < name_end; ++i) {
        const unsigned c = byte(i);
        const unsigned in_name = kFieldName[c];
        const unsigned colon_after_name =
            static_cast<unsigned>(c == ':') & static_cast<unsigned>(name_state == 1);
        const unsigned next = in_name ? 1u : colon_after_name ? 2u : 3u;
        name_state = name_state < 2 ? next : name_state;
    }
    std::size_t controls = 0;         // in the whole prefix
    std::size_t header_controls = 0;  // before the empty line that ends a header
    unsigned in_header = 1;
    unsigned previous = 0, before_previous = 0;
    for (std::size_t i = 0; i < judged.size(); ++i) {
        const unsigned c = byte(i);
        controls += kControl[c];
        header_controls += kControl[c] & in_header;
        const unsigned empty_line =
            static_cast<unsigned>(c == '\n') & (static_cast<unsigned>(previous == '\n') |
                                                (static_cast<unsigned>(previous == '\r') &
                                                 static_cast<unsigned>(before_previous == '\n')));
        in_header &= empty_line ^ 1u;
        before_previous = previous;
        previous = c;
    }
    const bool mime_entity = name_state == 2 && in_header == 0 && header_controls == 0;
    const bool text = controls == 0;
    return mime_entity || text;
}

const std::vector<Identity>& IdentityCache::get() {
    if (!identities_) identities_ = keys_.decryption_identities();
    return *identities_;
}

namespace {

// Pins the RecipientInfo to the first identity that has one.
void select_recipient(CMS_ContentInfo* cms, IdentityCache& identities) {
    for (const Identity& identity : identities.get()) {
        if (!identity.certificate || !identity.private_key) continue;
        ERR_set_mark();
        if (CMS_decrypt_set1_pkey_and_peer(cms, identity.private_key.get(),
                                           identity.certificate.get(), nullptr) == 1) {
            ERR_pop_to_mark();
            return;
        }
        ERR_pop_to_mark();
    }
    decrypt_failed("no RecipientInfo for any identity");
}

// Judged even when the padding was wrong: both failures take the same time (see above).
void judge(bool decrypted, bool authenticated, std::string& plaintext) {
    const bool plausible = authenticated || plausible_content(plaintext);
    if (decrypted && plausible) return;
    wipe_bytes(plaintext.data(), plaintext.capacity());
    plaintext.clear();
    decrypt_failed("content decryption");
}

}  // namespace

SecureString decrypt_enveloped(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                               std::size_t size_hint, bool authenticated) {
    select_recipient(cms, identities);
    SecureString plaintext;
    reserve_large(plaintext.mutable_str(), size_hint);
    bool decrypted = false;
    {
        const ossl::BioPtr sink = string_sink(plaintext.mutable_str());
        decrypted = CMS_decrypt(cms, nullptr, nullptr, detached, sink.get(), CMS_BINARY) == 1;
    }
    judge(decrypted, authenticated, plaintext.mutable_str());
    return plaintext;
}

void decrypt_enveloped_in_place(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                                bool authenticated, std::string& buffer) {
    select_recipient(cms, identities);
    std::size_t written = 0;
    bool decrypted = false;
    {
        const ossl::BioPtr sink = front_sink(buffer.data(), buffer.size(), written, detached);
        decrypted = CMS_decrypt(cms, nullptr, nullptr, detached, sink.get(), CMS_BINARY) == 1;
    }
    buffer.resize(written);  // the capacity, and the bytes beyond, stay: wiped with the buffer
    judge(decrypted, authenticated, buffer);
}

}  // namespace smime::engine
