// SPDX-License-Identifier: MIT
// Decryption through CMS_decrypt_set1_pkey_and_peer, which pins the RecipientInfo to the
// identity's certificate and, on a failed key unwrap, continues with a random content key so that
// callers see one failure mode (Bleichenbacher / MMA defence, RFC 3218).
#include "cms/decrypt_enveloped.h"

#include "cms/der.h"
#include "cms/providers.h"
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

}  // namespace

const std::vector<Identity>& IdentityCache::get() {
    if (!identities_) identities_ = keys_.decryption_identities();
    return *identities_;
}

SecureString decrypt_enveloped(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                               std::size_t size_hint) {
    load_providers();
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
    return plaintext;
}

}  // namespace smime::engine
