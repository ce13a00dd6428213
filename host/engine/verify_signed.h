// SPDX-License-Identifier: MIT
// Checks one SignedData layer: each SignerInfo's signature and digest, the signer's certificate
// path and the verification policy, producing a SignatureStatus per signer.
#pragma once

#include "engine/engine.h"
#include "mime/addresses.h"
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
    // The sender's address as best known while the layers are opened (empty when the From field
    // has a problem): the protected inner From once a signed layer's content shows one.
    const std::string& from_address() const { return from_address_; }
    void set_from_address(std::string address) { from_address_ = std::move(address); }
    // Trust anchors, intermediates and CRLs from the key store, fetched on first use.
    pki::TrustMaterial& material();
    // What verified signatures teach the key store, held until the From check (hand_over_harvests).
    std::vector<Harvest>& pending_harvests() { return pending_harvests_; }

private:
    KeyProvider& keys_;
    const VerifyOptions& options_;
    std::string from_address_;
    std::optional<pki::TrustMaterial> material_;
    std::vector<Harvest> pending_harvests_;
};

// The From check of one signature against the From the opened message shows (RFC 8551 section
// 3.1, RFC 9788 section 4): a From field problem, or an address not among the signer
// certificate's, adds address_mismatch. Settles the verdict again.
void check_from(SignatureStatus& signature, const mime::FromAddress& from);

// Once every signature has had its From check: hands the key store what each verified signature
// teaches (automatic key exchange), with the address it was checked against (only when that
// address is among the signer's) and whether the final verdict is good.
void hand_over_harvests(Status& status, VerifyContext& context);

// Verifies `cms` (a SignedData with at least one signer). `detached` is the canonical content of
// a multipart/signed; without it the encapsulated content is used and appended to `content_out`.
// Throws Error(BadMessage) when the structure makes verification impossible (no content, no
// digest algorithm for a signer). The From check is not made here: the From that counts is known
// only once every layer is open (check_from).
std::vector<SignatureStatus> verify_signed_data(CMS_ContentInfo* cms,
                                                std::optional<std::string_view> detached,
                                                std::string* content_out, VerifyContext& context);

}  // namespace smime::engine
