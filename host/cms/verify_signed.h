// SPDX-License-Identifier: MIT
// Checks one SignedData layer: each SignerInfo's signature and digest, the signer's certificate
// path and the verification policy, producing a SignatureStatus per signer.
#pragma once

#include "cms/engine.h"
#include "pki/chain.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

// What verification of one message needs, shared by all its layers.
class VerifyContext {
public:
    VerifyContext(KeyProvider& keys, const VerifyOptions& options, std::string from_address)
        : keys_(keys), options_(options), from_address_(std::move(from_address)) {}

    KeyProvider& keys() { return keys_; }
    const VerifyOptions& options() const { return options_; }
    const std::string& from_address() const { return from_address_; }
    // Trust anchors, intermediates and CRLs from the key store, fetched on first use.
    pki::TrustMaterial& material();

private:
    KeyProvider& keys_;
    const VerifyOptions& options_;
    std::string from_address_;
    std::optional<pki::TrustMaterial> material_;
};

// Verifies `cms` (a SignedData with at least one signer). `detached` is the canonical content of
// a multipart/signed; without it the encapsulated content is used and appended to `content_out`.
// Throws Error(BadMessage) when the structure makes verification impossible (no content, no
// digest algorithm for a signer).
std::vector<SignatureStatus> verify_signed_data(CMS_ContentInfo* cms, std::optional<std::string_view> detached,
                                                std::string* content_out, VerifyContext& context);

}  // namespace smime::engine
