// SPDX-License-Identifier: MIT
// Opens EnvelopedData and AuthEnvelopedData with the user's identities, failing uniformly.
#pragma once

#include "engine/keys.h"
#include "util/secure.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

// The user's identities, asked from the key store at most once per message.
class IdentityCache {
public:
    explicit IdentityCache(KeyProvider& keys) : keys_(keys) {}
    const std::vector<Identity>& get();

private:
    KeyProvider& keys_;
    std::optional<std::vector<Identity>> identities_;
};

// The decrypted content (`size_hint`: expected size, for one allocation). Every failure (no
// matching RecipientInfo, key transport or agreement, padding, authentication tag, unsupported
// cipher, content that is noise) throws the same Error(DecryptFailed).
// `detached`: the encrypted content when `cms` was parsed without it (see ber.h), else nullptr.
// `authenticated`: AEAD content (AuthEnvelopedData), whose tag already proves the key right.
SecureString decrypt_enveloped(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                               std::size_t size_hint, bool authenticated);

// The same, in place: `buffer` holds the message being decrypted and, when `detached` is given,
// the ciphertext it reads. The content is written over the buffer from its start, never reaching
// ciphertext still to be read (content is never longer than the ciphertext it comes from), and
// the buffer is left holding just the content: a large message is held once, not encoded,
// decoded and decrypted at once.
void decrypt_enveloped_in_place(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                                bool authenticated, std::string& buffer);

// Whether decrypted, unauthenticated content can be real: a MIME entity (a header of text fields
// and any body at all) or text in any 8-bit charset, as opposed to the noise a wrong content key
// gives. Reads a fixed prefix in one pass without early exit (see decrypt_enveloped.cpp).
bool plausible_content(std::string_view content);

}  // namespace smime::engine
