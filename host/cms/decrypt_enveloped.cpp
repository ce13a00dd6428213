// SPDX-License-Identifier: MIT
// Decryption through CMS_decrypt_set1_pkey_and_peer, which pins the RecipientInfo to the
// identity's certificate and, on a failed key unwrap, continues with a random content key so that
// callers see one failure mode (Bleichenbacher / MMA defence, RFC 3218).
#include "cms/decrypt_enveloped.h"

#include "mime/entity.h"

#include "cms/der.h"
#include "util/providers.h"
#include "mime/buffer.h"
#include "util/error.h"
#include "util/log.h"

#include <openssl/err.h>

namespace smime::engine {
namespace {

[[noreturn]] void decrypt_failed(const char* where) {
    log::openssl_errors(where);
    throw Error(Code::DecryptFailed, "the message cannot be decrypted");
}

// OpenSSL answers a wrong content-encryption key (a wrong-length key, or a key transport that
// failed) with a random key instead of an error, so that failures cannot be told apart (RFC 3218
// section 2.3). About one time in 256 the random key still yields valid padding, and "plaintext"
// that is noise. S/MIME content is a MIME entity (RFC 8551 section 3.1), or at least text: accept
// nothing else, so such noise fails like every other decryption failure.
bool valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 9;
        if (extra == 9 || i + extra >= text.size() + (extra == 0 ? 1 : 0)) return false;
        for (std::size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return false;
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f') return false;
        i += extra + 1;
    }
    return true;
}

bool plausible_content(std::string_view content) {
    try {
        const mime::Entity entity = mime::parse(content);
        if (!entity.fields.empty()) return true;
    } catch (const Error&) {
    }
    // Judge the first 64 KiB, cut at an ASCII byte so no character is split.
    std::string_view head = content.substr(0, 64 * 1024);
    if (head.size() < content.size())
        while (!head.empty() && static_cast<unsigned char>(head.back()) >= 0x80) head.remove_suffix(1);
    return valid_utf8(head);
}

}  // namespace

const std::vector<Identity>& IdentityCache::get() {
    if (!identities_) identities_ = keys_.decryption_identities();
    return *identities_;
}

SecureString decrypt_enveloped(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                               std::size_t size_hint) {
    ensure_legacy_provider();
    bool matched = false;
    for (const Identity& identity : identities.get()) {
        if (!identity.certificate || !identity.private_key) continue;
        ERR_set_mark();
        if (CMS_decrypt_set1_pkey_and_peer(cms, identity.private_key.get(), identity.certificate.get(), nullptr) == 1) {
            ERR_pop_to_mark();
            matched = true;
            break;
        }
        ERR_pop_to_mark();
    }
    if (!matched) decrypt_failed("no RecipientInfo for any identity");

    SecureString plaintext;
    mime::reserve_large(plaintext.mutable_str(), size_hint);
    {
        const ossl::BioPtr sink = string_sink(plaintext.mutable_str());
        if (!CMS_decrypt(cms, nullptr, nullptr, detached, sink.get(), CMS_BINARY)) {
            plaintext.wipe();
            decrypt_failed("content decryption");
        }
    }
    if (!plausible_content(plaintext.str())) {
        plaintext.wipe();
        decrypt_failed("decrypted content is neither MIME nor text (wrong content-encryption key)");
    }
    return plaintext;
}

}  // namespace smime::engine
