// SPDX-License-Identifier: MIT
// Certificate path validation (RFC 5280) for S/MIME signers: builds the path to the user's trust
// anchors, checks validity, revocation (when CRLs are known) and the S/MIME signing purpose.
#pragma once

#include "util/ossl.h"

#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace smime::pki {

// Everything known to build and check paths: anchors and intermediates from the key store and
// the message, CRLs from both.
class TrustMaterial {
public:
    TrustMaterial(const std::vector<ossl::X509Ptr>& anchors,
                  const std::vector<ossl::X509Ptr>& intermediates,
                  const std::vector<ossl::X509CrlPtr>& crls);

    void add_anchor(X509* cert);
    void add_untrusted(X509* cert);  // e.g. certificates the key store knows
    // Certificates a message carries, tried before the stored ones: OpenSSL takes the first
    // likely issuer without backtracking, so a stored look-alike must not hide the real one.
    void add_untrusted_first(X509* cert);
    void add_crl(X509_CRL* crl);

    // For a store that adds what paths need as they come (KeyProvider::add_paths_from): true the
    // first time it is asked about this issuer name, false after.
    bool first_search(const X509_NAME* issuer);
    // Whether everything the store has is in already (the provider's to say), so that no more
    // searches are needed.
    bool holds_all_stored() const noexcept { return holds_all_stored_; }
    void set_holds_all_stored() noexcept { holds_all_stored_ = true; }

    X509_STORE* store() const noexcept { return store_.get(); }
    STACK_OF(X509)* untrusted() const noexcept { return untrusted_.get(); }
    STACK_OF(X509_CRL)* crls() const noexcept { return crls_.get(); }

private:
    ossl::X509StorePtr store_;
    ossl::X509StackPtr untrusted_;
    ossl::X509CrlStackPtr crls_;
    std::set<std::string> searched_;  // issuer names (DER) first_search has seen
    bool holds_all_stored_ = false;
};

// What is wrong with a path, all at once (validation continues past each problem).
struct PathResult {
    bool untrusted = false;       // no path to an anchor, or a certificate signature in it fails
    bool expired = false;         // a certificate in the path is past notAfter
    bool not_yet_valid = false;   // a certificate in the path is before notBefore
    bool revoked = false;         // a known CRL lists a certificate in the path
    bool bad_key_usage = false;   // keyUsage or extKeyUsage forbid S/MIME signing
    bool weak_algorithm = false;  // a certificate of the path is signed or keyed too weakly
    // Whether the path was valid at the time asked; weak algorithms do not depend on time.
    bool ok() const { return !(untrusted || expired || not_yet_valid || revoked || bad_key_usage); }
    // Set when the path is ok() and no CRL was consulted: from the latest notBefore to the
    // earliest notAfter of its certificates. The same path is ok() at any time in it, as the
    // validity periods are the only checks that depend on the time then.
    std::optional<std::pair<std::time_t, std::time_t>> valid_span;
    // Whether the same path is known to be ok() at `at` too, without building it again. OpenSSL
    // counts a certificate as expired from the second of its notAfter on.
    bool known_ok_at(std::time_t at) const {
        return valid_span && valid_span->first <= at && at < valid_span->second;
    }
};

// What counts as too weak in a path (docs/protocol.md, weak_algorithm).
struct AlgorithmPolicy {
    bool allow_sha1 = false;  // MD2, MD4 and MD5 are never allowed
    int min_rsa_bits = 2048;  // RSA and DSA keys
    int min_ec_bits = 256;    // EC curves (P-192, secp160r1, ... are weak)
};

// True when `cert` has a key under the policy's sizes or, with `judge_signature`, is signed with
// a weak digest.
bool weak_certificate(X509* cert, const AlgorithmPolicy& policy, bool judge_signature);

// Validates `leaf` at time `at` for S/MIME signing (X509_PURPOSE_SMIME_SIGN: extKeyUsage, when
// present, must allow emailProtection; keyUsage, when present, digitalSignature or
// nonRepudiation). CRLs are checked for every certificate whose issuer published one we know; a
// missing CRL is not an error (offline host, RFC 5280 section 6.3 leaves this to local policy).
// Every certificate of the path built (even one that does not reach an anchor) is judged against
// `policy`: its key, and its signature unless it is the self-signed top of the path (a trust
// anchor is trusted for what it is, not for its self-signature: RFC 5280 section 6.1).
PathResult validate_signer(X509* leaf, const TrustMaterial& material, std::time_t at,
                           const AlgorithmPolicy& policy = {});

// Whether `cert` has a path to an anchor at `at` with nothing wrong in it, whatever the purpose
// (a recipient's certificate may be for encryption only): what `trusted` means in key store
// replies. Key usage for encryption is judged separately, when a certificate is stored.
bool validates_to_anchor(X509* cert, const TrustMaterial& material, std::time_t at);

}  // namespace smime::pki
