// SPDX-License-Identifier: MIT
// What the S/MIME engine needs from the key store, and what it hands back to it. The key store
// implements KeyProvider; the engine never touches storage itself.
#pragma once

#include "pki/chain.h"
#include "util/ossl.h"

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace smime::engine {

// The user's own certificate with its private key (decrypted, in memory only while needed).
struct Identity {
    ossl::X509Ptr certificate;
    ossl::PKeyPtr private_key;
    std::vector<ossl::X509Ptr> chain;  // intermediates, leaf first excluded, root optional
    std::string fingerprint;           // SHA-256 of the certificate DER, lowercase hex
};

// A recipient's certificate and what that recipient advertised (RFC 8551 section 2.5.2).
struct Recipient {
    std::string address;
    ossl::X509Ptr certificate;
    // Canonical capability names: "aes256-gcm", "aes128-gcm", "aes256-cbc", "aes192-cbc",
    // "aes128-cbc", "des-ede3-cbc", "rc2-cbc", "rsaes-oaep", "rsassa-pss", "sha256", "sha384",
    // "sha512", "sha1"; anything else as a dotted OID.
    std::vector<std::string> capabilities;
};

// Learned from a signature that verified cryptographically (automatic public key exchange).
// Only the signer's own certificates can become encryption candidates, and only for the
// addresses the signature was checked against; everything else is path-building material.
struct Harvest {
    // What one signature may hand over: a few issuer certificates, each of sane size.
    static constexpr std::size_t kMaxChain = 4;
    static constexpr std::size_t kMaxCertificateBytes = 16 * 1024;

    ossl::X509Ptr certificate;              // the signer's certificate
    std::vector<ossl::X509Ptr> chain;       // issuers on the signer's path that the message carried
    std::vector<std::string> capabilities;  // from the SMIMECapabilities signed attribute
    ossl::X509Ptr
        preferred_encryption_certificate;  // from SMIMEEncryptionKeyPreference, if resolvable
    std::string sender_address;            // the message's From address
    // The addresses the signature was checked against: the From address, when it is among the
    // signer certificate's addresses (lowercase). Empty: the signature vouches for no address.
    std::vector<std::string> matched_addresses;
    bool good = false;  // the signature's verdict was `good`
    std::optional<std::time_t> signing_time;
};

class KeyProvider {
public:
    virtual ~KeyProvider() = default;

    // The user's identities, for decryption (and signing, by the caller). May throw
    // Error(Code::Locked) when the key store is locked; called only when a key is really needed.
    virtual std::vector<Identity> decryption_identities() = 0;

    // Trust anchors (the user's and the system's), intermediates and CRLs the store knows.
    virtual std::vector<ossl::X509Ptr> trust_anchors() = 0;
    virtual std::vector<ossl::X509Ptr> intermediates() = 0;
    virtual std::vector<ossl::X509CrlPtr> crls() = 0;

    // The same, ready for path validation. A store may do better than parsing every anchor it
    // has: the key store leaves the system's anchors on disk until a path needs one, and its own
    // certificates and CRLs in the database until add_paths_from asks for them.
    virtual pki::TrustMaterial trust_material() {
        return pki::TrustMaterial(trust_anchors(), intermediates(), crls());
    }
    // Adds to `material` what the paths of the certificates `from` (null entries skipped) may need
    // that trust_material() left out. Nothing, for a provider whose trust_material() holds
    // everything.
    virtual void add_paths_from(pki::TrustMaterial& material, const std::vector<X509*>& from) {
        (void)material;
        (void)from;
    }

    // Stored certificates with this serial number (lowercase hex, as certificate descriptions
    // give it): finds a signer's certificate that a message does not carry (RFC 5652 section
    // 5.1 lets a sender leave it out when the recipient is expected to have it).
    virtual std::vector<ossl::X509Ptr> certificates_with_serial(const std::string& serial_hex) {
        (void)serial_hex;
        return {};
    }

    // Keeps what a verified signature taught us. Must not throw for storage trouble (log it).
    virtual void harvest(const Harvest& learned) = 0;
};

}  // namespace smime::engine
