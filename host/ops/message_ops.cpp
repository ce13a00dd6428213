// SPDX-License-Identifier: MIT
// S/MIME operations: message.sign, message.encrypt, message.decrypt, message.verify,
// message.inspect. Chooses keys and recipients from the key store, then calls the engine.
#include "engine/engine.h"
#include "keystore/keystore.h"
#include "mime/addresses.h"
#include "mime/entity.h"
#include "ops/groups.h"
#include "ops/operation.h"
#include "policy/policy.h"
#include "util/error.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

namespace smime {
namespace {

engine::SignOptions sign_options(const json& args, const Policy& policy) {
    engine::SignOptions options;
    options.opaque = arg_bool(args, "opaque");
    // Default SHA-256, or the first digest the organisation allows.
    std::string fallback = "sha256";
    if (!policy.digest_allowed(fallback))
        for (const auto& d : policy.allowed_digests)
            if (d != "sha1") {
                fallback = d;
                break;
            }
    const std::string digest = arg_string(args, "digest", fallback);
    if (!policy.digest_allowed(digest) || digest == "sha1")
        throw Error(Code::Policy, "your organisation does not allow signing with " + digest,
                    {{"key", "allowed_digests"}, {"allowed", policy.allowed_digests}});
    if (digest == "sha256") options.digest = engine::DigestAlgorithm::Sha256;
    else if (digest == "sha384") options.digest = engine::DigestAlgorithm::Sha384;
    else if (digest == "sha512") options.digest = engine::DigestAlgorithm::Sha512;
    else
        throw Error(Code::BadRequest, "digest must be sha256, sha384 or sha512",
                    {{"field", "args.digest"}});
    if (arg_bool(args, "rsa_pss")) options.rsa_signature = engine::RsaSignature::Pss;
    options.protect_headers = arg_bool(args, "protect_headers");
    return options;
}

// The one From address (RFC 5322 section 3.6.2): the sender's identity is chosen by it, so no From,
// several, or one that does not parse is refused rather than guessed at.
std::string sender_of(const mime::Entity& message) {
    const mime::FromAddress from = mime::from_address(message);
    if (from.problem != mime::FromAddress::Problem::None)
        throw Error(Code::BadMessage,
                    std::string(mime::describe(from.problem)) + ": the sender cannot be told");
    return from.address;
}

// The identity that signs: the one named, else the active identity for the From address.
engine::Identity signer_for(Context& context, const json& args, const mime::Entity& message) {
    const std::string named = arg_string(args, "signer");
    if (!named.empty()) return context.store().identity(named);
    return context.store().signing_identity(sender_of(message));
}

// The message without its Bcc fields: they must not travel inside or outside the encryption.
// Only called when there are Bcc fields, so ordinary mail is not copied.
std::string without_bcc(std::string_view text, const mime::Entity& message) {
    std::string out;
    out.reserve(text.size());
    const char* cursor = text.data();
    for (const auto& field : message.fields) {
        if (!mime::iequals(field.name, "Bcc")) continue;
        out.append(cursor, field.raw.data());
        cursor = field.raw.data() + field.raw.size();
    }
    out.append(cursor, text.data() + text.size());
    return out;
}

json signer_json(const engine::Identity& identity) {
    return {{"fingerprint", identity.fingerprint}};
}

// Digests and checks the content of a message to sign while it arrives (multipart/signed only),
// on a thread of its own: the session reads and decodes the next chunk while this one is
// digested, so a large message costs the longer of the two instead of both. The signing identity
// is not looked up here: the store may be locked or changed before the last chunk, so the handler
// asks for it then.
class SignObserver final : public PayloadObserver {
public:
    explicit SignObserver(engine::DigestAlgorithm algorithm)
        : digester_(algorithm), worker_([this] { digest_as_given(); }) {}
    ~SignObserver() override {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        given_.notify_all();
        worker_.join();
    }
    void received(std::string_view so_far) override {
        {
            const std::lock_guard lock(mutex_);
            latest_ = so_far;
            pending_ = true;
        }
        given_.notify_all();
    }
    void settle() override {
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return !pending_ && !busy_; });
    }
    // After the last chunk: the digest of the entity as received, or an empty one when the
    // digester gave up.
    engine::EntityDigest finish() {
        settle();
        return failed_ ? engine::EntityDigest{} : digester_.finish();
    }

private:
    void digest_as_given() {
        std::unique_lock lock(mutex_);
        for (;;) {
            given_.wait(lock, [this] { return stopping_ || pending_; });
            if (stopping_) return;
            const std::string_view view = latest_;
            pending_ = false;
            busy_ = true;
            lock.unlock();
            try {
                if (!failed_) digester_.update(view);
            } catch (...) {
                failed_ = true;  // only a head start: sign_pieces() digests the message itself
            }
            lock.lock();
            busy_ = false;
            done_.notify_all();
        }
    }

    engine::EntityDigester digester_;
    std::mutex mutex_;
    std::condition_variable given_, done_;
    std::string_view latest_;
    bool pending_ = false, busy_ = false, stopping_ = false;
    bool failed_ = false;  // written by the worker only, read after settle()
    std::thread worker_;   // last: started once everything it uses exists
};

std::unique_ptr<SignObserver> observe_sign(Context& context, const json& args) {
    try {
        const engine::SignOptions options = sign_options(args, context.policy());
        // With protect_headers the signed entity starts with the header copy: nothing to digest
        // early.
        if (options.opaque || options.protect_headers) return nullptr;
        return std::make_unique<SignObserver>(options.digest);
    } catch (const Error&) {
        return nullptr;  // the handler reports the bad argument
    } catch (const std::exception&) {
        return nullptr;  // no thread to be had: the handler digests the message itself
    }
}

Reply sign(Context& context, Request& request, SignObserver* observer) {
    context.policy().require_private_key_operations();
    const std::string_view text = request.payload.str();
    const mime::Entity message = mime::parse(text);
    const engine::Identity signer = signer_for(context, request.args, message);
    engine::EntityDigest digested;
    if (observer) digested = observer->finish();
    Reply reply;
    // The reply repeats the body by reference: request.payload outlives the reply.
    reply.payload =
        engine::sign_pieces(text, signer, sign_options(request.args, context.policy()), &digested);
    reply.result["signer"] = signer_json(signer);
    return reply;
}

// The organisation may rule out some content encryption algorithms: drop what it forbids from
// what recipients advertised, and refuse if nothing allowed remains for this set of recipients.
void apply_encryption_policy(const Policy& policy, std::vector<engine::Recipient>& recipients) {
    bool all_gcm = true;
    for (auto& r : recipients) {
        auto& caps = r.capabilities;
        caps.erase(std::remove_if(caps.begin(), caps.end(),
                                  [&](const std::string& c) {
                                      return c.find("-gcm") != std::string::npos &&
                                             !policy.content_encryption_allowed(c);
                                  }),
                   caps.end());
        all_gcm = all_gcm && std::find(caps.begin(), caps.end(), "aes256-gcm") != caps.end();
    }
    if (!all_gcm && !policy.content_encryption_allowed("aes256-cbc"))
        throw Error(Code::Policy,
                    "not every recipient can read an encryption algorithm your organisation allows",
                    {{"key", "allowed_content_encryption"},
                     {"allowed", policy.allowed_content_encryption}});
}

Reply encrypt(Context& context, Request& request) {
    const Policy& policy = context.policy();
    policy.require_private_key_operations();
    if (policy.require_signing && !arg_bool(request.args, "sign"))
        throw Error(Code::Policy,
                    "your organisation requires encrypted mail to be signed too: pass sign: true",
                    {{"key", "require_signing"}});
    const std::string_view text = request.payload.str();
    const mime::Entity message = mime::parse(text);
    KeyStore& store = context.store();
    const std::string sender = sender_of(message);

    std::vector<std::string> addresses;
    std::vector<std::string> bcc;
    if (request.args.contains("recipients")) {
        for (const auto& a : arg_strings(request.args, "recipients")) {
            const auto parsed = mime::parse_address_list(a);
            if (!parsed)
                throw Error(Code::BadRequest, "a recipient is not a valid RFC 5322 address: " + a,
                            {{"field", "args.recipients"}});
            for (const auto& mailbox : *parsed) addresses.push_back(mailbox.address);
        }
    } else {
        for (const char* name : {"To", "Cc"})
            for (const auto& field : message.fields)
                if (mime::iequals(field.name, name))
                    for (auto& a : mime::address_list(field.value, name))
                        addresses.push_back(std::move(a));
        for (const auto& field : message.fields)
            if (mime::iequals(field.name, "Bcc"))
                for (auto& a : mime::address_list(field.value, "Bcc")) bcc.push_back(std::move(a));
    }
    std::vector<engine::Recipient> recipients;
    std::vector<std::string> missing;
    for (const auto& address : addresses) {
        bool seen = false;
        for (const auto& r : recipients) seen = seen || r.address == address;
        if (seen || address == sender) continue;
        if (auto r = store.recipient(address)) recipients.push_back(std::move(*r));
        else missing.push_back(address);
    }
    for (const auto& address : bcc)
        if (!store.recipient(address)) missing.push_back(address);
    if (!missing.empty())
        throw Error(Code::NoCertificate, "no usable certificate for some recipients",
                    {{"addresses", missing}});
    // The sender's own certificate, so the sent copy stays readable.
    auto own = store.own_recipient(sender);
    if (!own)
        throw Error(
            Code::NoIdentity,
            "no active identity for the sender " + sender + ": the sent copy would be unreadable",
            {{"address", sender}});
    recipients.push_back(std::move(*own));
    apply_encryption_policy(policy, recipients);

    engine::EncryptOptions options;
    options.protect_headers = arg_bool(request.args, "protect_headers");
    std::optional<engine::Identity> signer;
    if (arg_bool(request.args, "sign")) {
        signer = signer_for(context, request.args, message);
        options.sign_with = &*signer;
        options.sign_options = sign_options(request.args, policy);
    }
    bool has_bcc = false;
    for (const auto& field : message.fields) has_bcc = has_bcc || mime::iequals(field.name, "Bcc");
    // Encryption consumes the message (wiping it as it goes); the request, which frees it, outlives
    // the reply. With Bcc fields it is a copy without them, which replaces the request's own:
    // `text` and `message` refer to freed bytes from here on and must not be read again.
    if (has_bcc) request.payload = SecureString(without_bcc(text, message));
    Reply reply;
    // Ciphertext, and the headers it goes out with: nothing to wipe when the reply is sent.
    reply.payload.emplace().append_public(engine::encrypt(request.payload, recipients, options));
    json names = json::array();
    for (const auto& r : recipients) names.push_back(r.address);
    reply.result["recipients"] = names;
    reply.result["bcc"] =
        bcc;  // each needs its own copy: message.encrypt with recipients: [address]
    reply.result["signed"] = signer.has_value();
    if (signer) reply.result["signer"] = signer_json(*signer);
    return reply;
}

Reply open(Context& context, Request& request, bool decrypt) {
    const Policy& policy = context.policy();
    if (decrypt) policy.require_private_key_operations();
    engine::VerifyOptions options;
    options.allow_sha1 = policy.allow_sha1_verification;
    options.min_rsa_bits = policy.min_rsa_bits;
    options.refer_to_input = true;  // request.payload outlives the reply
    engine::Opened opened =
        decrypt ? engine::decrypt(std::move(request.payload), context.store(), options)
                : engine::verify(request.payload.str(), context.store(), options);
    // Digests the organisation does not accept count as weak, whatever the engine's defaults.
    for (auto& signature : opened.status.signatures) {
        if (signature.digest_algorithm.empty() || policy.digest_allowed(signature.digest_algorithm))
            continue;
        signature.reasons.push_back(engine::Verdict::WeakAlgorithm);
        engine::settle(signature);
    }
    Reply reply;
    reply.result["status"] = engine::to_json(opened.status);
    reply.payload = std::move(opened.mime);
    return reply;
}

const ArgSpec kMime{"mime", ArgType::Payload, true,
                    "the whole RFC 5322 message (base64, or chunked)"};
const ArgSpec kOpaque{"opaque", ArgType::Boolean, false,
                      "application/pkcs7-mime signed-data instead of multipart/signed"};
const ArgSpec kDigest{"digest", ArgType::String, false, "sha256 (default), sha384 or sha512"};
const ArgSpec kPss{"rsa_pss", ArgType::Boolean, false,
                   "sign RSA keys with RSASSA-PSS instead of PKCS#1 v1.5"};
const ArgSpec kSigner{
    "signer", ArgType::String, false,
    "fingerprint of the identity to sign with (default: the active one for From)"};
const ArgSpec kProtectHeaders{
    "protect_headers", ArgType::Boolean, false,
    "RFC 9788 header protection: a signed (and, encrypting, hidden) copy of the header "
    "fields inside; encrypted mail shows the Subject as [...] outside"};

}  // namespace

void register_message_ops(Registry& registry) {
    const Observed<SignObserver> signing{observe_sign, sign};
    registry.add({
        .name = "message.sign",
        .summary = "Sign a message with your identity for its From address (or the one named).",
        .args = {kMime, kOpaque, kDigest, kPss, kSigner, kProtectHeaders},
        .result_help = "{mime (signed message), signer{fingerprint}}",
        .payload_result = "mime",
        .aliases = {"sign"},
        .handler = signing.handler(),
        .observe = signing.observe(),
    });
    registry.add({
        .name = "message.encrypt",
        .summary = "Encrypt a message for its To and Cc recipients and yourself; optionally sign "
                   "it first.",
        .args = {kMime,
                 {"recipients", ArgType::StringArray, false,
                  "encrypt for exactly these addresses (plus yourself) instead of To and Cc"},
                 {"sign", ArgType::Boolean, false, "sign before encrypting"},
                 kOpaque,
                 kDigest,
                 kPss,
                 kSigner,
                 kProtectHeaders},
        .result_help = "{mime (encrypted message, Bcc fields removed), recipients[], bcc[] "
                       "(addresses that each need "
                       "a separate copy), signed, signer?}",
        .payload_result = "mime",
        .aliases = {"encrypt"},
        .handler = encrypt,
    });
    registry.add({
        .name = "message.decrypt",
        .summary = "Decrypt a message with your keys and verify any signature inside.",
        .args = {kMime},
        .result_help =
            "{mime (the inner message), status{level, layers[], signatures[], header_protection}}",
        .payload_result = "mime",
        .aliases = {"decrypt"},
        .handler = [](Context& c, Request& r) { return open(c, r, true); },
    });
    registry.add({
        .name = "message.verify",
        .summary = "Verify a signed message: who signed, trusted, valid, matching From, unchanged.",
        .args = {kMime},
        .result_help =
            "{mime (the signed content), status{level, layers[], signatures[], header_protection}}",
        .payload_result = "mime",
        .aliases = {"verify"},
        .handler = [](Context& c, Request& r) { return open(c, r, false); },
    });
    registry.add({
        .name = "message.inspect",
        .summary = "The protection level of a message (none, signed, encrypted, signed+encrypted), "
                   "without keys.",
        .args = {kMime},
        .result_help = "{status{level, layers[]}}",
        .aliases = {"inspect"},
        .handler =
            [](Context&, Request& r) {
                Reply reply;
                reply.result["status"] = engine::to_json(engine::inspect(r.payload.str()));
                return reply;
            },
    });
}

}  // namespace smime
