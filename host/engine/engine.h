// SPDX-License-Identifier: MIT
// The S/MIME engine (RFC 8551 over CMS, RFC 5652): sign, encrypt, decrypt, verify and inspect whole
// RFC 5322 messages. Stateless; keys and trust come from the caller (Identity, Recipient,
// KeyProvider in engine/keys.h). Every function throws smime::Error with a protocol code.
//
// What the protocol glue (ops/message_ops.cpp) does around it:
// - message.sign: pick the Identity (the `signer` fingerprint, else the active identity for the
//   From address; none → ERR_NO_IDENTITY), call sign().
// - message.encrypt: collect recipients (args.recipients, else To + Cc of the message), look up a
//   certificate and its capabilities for each (missing → ERR_NO_CERTIFICATE with
//   details.addresses), always add the sender's own certificate, remove every Bcc field and call
//   encrypt() once: one CMS object names every recipient, so Bcc recipients are only listed
//   (`result.bcc[]`) and the caller encrypts a separate copy for each with `recipients: [that
//   address]`. encrypt() itself never reads To/Cc/Bcc.
// - message.decrypt / message.verify: call decrypt() / verify() with the key store as
//   KeyProvider; reply with result.mime = Opened::mime and result.status = to_json(status).
// - message.inspect: inspect(); no key store needed.
#pragma once

#include "engine/keys.h"
#include "engine/status.h"
#include "util/pieces.h"
#include "util/secure.h"

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

enum class DigestAlgorithm { Sha256, Sha384, Sha512 };
enum class RsaSignature { Pkcs1v15, Pss };

struct SignOptions {
    bool opaque =
        false;  // application/pkcs7-mime; smime-type=signed-data instead of multipart/signed
    DigestAlgorithm digest = DigestAlgorithm::Sha256;
    RsaSignature rsa_signature = RsaSignature::Pkcs1v15;  // ignored for EC keys (always ECDSA)
    std::optional<std::time_t> signing_time;              // default: now
    bool protect_headers = false;  // RFC 9788: an inner copy of the header fields, hp="clear"
};

struct EncryptOptions {
    const Identity* sign_with = nullptr;  // sign first (with sign_options), then encrypt
    SignOptions sign_options;             // its protect_headers is ignored: see below
    // RFC 9788: an inner copy of the header fields (hp="cipher", HP-Outer) in the entity that is
    // signed and encrypted, and an outer Subject of "[...]".
    bool protect_headers = false;
};

// Verification policy; an organisation policy may tighten or loosen these.
struct VerifyOptions {
    bool allow_sha1 = false;  // SHA-1 signatures get weak_algorithm unless allowed (MD5 never is)
    int min_rsa_bits = 2048;  // smaller RSA (and DSA) signing keys get weak_algorithm
    std::optional<std::time_t> validation_time;  // default: now (see docs/protocol.md)
    // Opened::mime may refer to the input's bytes instead of copying them (a large signed body
    // is then not held twice): only for a caller that keeps the input while it uses the result.
    bool refer_to_input = false;
};

// The digest of a message's content entity, worked out while the message was still arriving
// (EntityDigester). sign_pieces() uses it only when the entity it signs is exactly `prefix`
// followed by the message from `body_offset` to `end`; otherwise it digests the entity itself.
struct EntityDigest {
    using Value = std::vector<unsigned char>;
    DigestAlgorithm algorithm = DigestAlgorithm::Sha256;
    bool complete = false;
    std::string prefix;  // the canonical Content-* fields and the empty line after them
    std::size_t body_offset = 0;
    std::size_t end = 0;
    Value value;
    bool body_ready = false;  // the body is CRLF and transport-safe as it is (mime::body_ready)

    std::optional<Value> matching(std::string_view message, std::string_view content_fields,
                                  std::string_view body, DigestAlgorithm wanted) const;
};

// Digests the content entity of a message as it arrives in pieces, so that signing a large
// message need not read it again. Gives up quietly on anything unusual (a header over 1 MiB,
// malformed fields); then sign_pieces() does the work.
class EntityDigester {
public:
    explicit EntityDigester(DigestAlgorithm algorithm);
    ~EntityDigester();
    EntityDigester(const EntityDigester&) = delete;
    EntityDigester& operator=(const EntityDigester&) = delete;

    // `received` is all of the message received so far; each call sees a longer prefix.
    void update(std::string_view received);
    // After the last update: the digest of the entity as received.
    EntityDigest finish();

private:
    struct State;
    std::unique_ptr<State> state_;
};

// A signed message: outer header fields unchanged, the content (Content-* fields and body) made
// canonical and 7-bit safe, then multipart/signed (RFC 8551 section 3.5.3) or opaque signed-data.
// Throws BadMessage for unparseable MIME, Internal when OpenSSL cannot sign with the key.
SecureString sign(std::string_view mime, const Identity& signer, const SignOptions& options = {});

// The same message in pieces. When the body needs no change (CRLF, 7-bit safe, multipart/signed)
// one piece is a view of `mime`'s body, which must outlive the result; `precomputed` saves
// digesting the entity again when it matches.
Pieces sign_pieces(std::string_view mime, const Identity& signer, const SignOptions& options = {},
                   const EntityDigest* precomputed = nullptr);

// An application/pkcs7-mime message for `recipients` (each gets a RecipientInfo). AES-256-GCM
// AuthEnvelopedData when every recipient advertised aes256-gcm, else AES-256-CBC EnvelopedData.
// RSA keys get RSAES-OAEP (SHA-256) when that recipient advertised rsaes-oaep, else PKCS#1 v1.5;
// EC keys get ECDH key agreement (RFC 5753, dhSinglePass-stdDH-sha256kdf). Throws NoCertificate
// (details.addresses) for an empty list or an unusable certificate.
std::string encrypt(std::string_view mime, const std::vector<Recipient>& recipients,
                    const EncryptOptions& options = {});
// The same, consuming `mime`: its bytes are wiped, and their memory given back, as they are
// encrypted, so a large message and its encrypted form are not held in full at once. The caller
// still owns the buffer (freeing it later) but must not read it again, even when this throws.
std::string encrypt(SecureString& mime, const std::vector<Recipient>& recipients,
                    const EncryptOptions& options = {});

// The inner message and what protected it. `mime` is the outer header fields and the innermost
// entity (the input when unprotected); with VerifyOptions::refer_to_input it may refer to the
// input's bytes (a signed body that needs no change is not copied).
struct Opened {
    Pieces mime;
    Status status;
    std::string joined() const { return std::string(mime.join().str()); }  // as one string
};

// Unwraps every layer, decrypting with KeyProvider::decryption_identities() (asked only when an
// encrypted layer is met) and verifying every signed layer. Any decryption failure, including
// "none of my keys is a recipient", is Error(DecryptFailed) with the same message.
Opened decrypt(std::string_view mime, KeyProvider& keys, const VerifyOptions& options = {});
// The same, taking the message: its buffer is released as soon as the encrypted content is
// decoded, so a large message is not held encoded, decoded and decrypted all at once. The
// message is consumed even when this throws (e.g. Locked): keep a copy to retry with.
Opened decrypt(SecureString&& mime, KeyProvider& keys, const VerifyOptions& options = {});

// Like decrypt() but never asks for private keys: an encrypted layer ends the walk (its content
// stays opaque) and is listed in status.layers with decrypted=false.
Opened verify(std::string_view mime, KeyProvider& keys, const VerifyOptions& options = {});

// The protection level from structure alone: no keys, no signature checks. A signature inside an
// encrypted layer cannot be seen, so such a message is "encrypted".
Status inspect(std::string_view mime);

}  // namespace smime::engine
