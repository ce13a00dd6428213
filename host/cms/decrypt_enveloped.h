// SPDX-License-Identifier: MIT
// Opens EnvelopedData and AuthEnvelopedData with the user's identities, failing uniformly.
#pragma once

#include "cms/keys.h"
#include "util/secure.h"

#include <optional>
#include <string>
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

// The decrypted content (`size_hint`: expected size, for one allocation). Every failure (no matching RecipientInfo, key transport or agreement, padding, authentication tag,
// unsupported cipher) throws the same Error(DecryptFailed).
// `detached`: the encrypted content when `cms` was parsed without it (see ber.h), else nullptr.
SecureString decrypt_enveloped(CMS_ContentInfo* cms, BIO* detached, IdentityCache& identities,
                               std::size_t size_hint);

}  // namespace smime::engine
