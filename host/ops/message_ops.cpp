// SPDX-License-Identifier: MIT
// S/MIME operations: message.sign, message.encrypt, message.decrypt, message.verify,
// message.inspect. Chooses keys and recipients from the key store, then calls the engine.
#include "cms/engine.h"
#include "keystore/keystore.h"
#include "mime/addresses.h"
#include "mime/entity.h"
#include "ops/groups.h"
#include "ops/operation.h"
#include "util/error.h"

namespace smime {
namespace {

engine::SignOptions sign_options(const json& args) {
    engine::SignOptions options;
    options.opaque = arg_bool(args, "opaque");
    const std::string digest = arg_string(args, "digest", "sha256");
    if (digest == "sha256") options.digest = engine::DigestAlgorithm::Sha256;
    else if (digest == "sha384") options.digest = engine::DigestAlgorithm::Sha384;
    else if (digest == "sha512") options.digest = engine::DigestAlgorithm::Sha512;
    else throw Error(Code::BadRequest, "digest must be sha256, sha384 or sha512", {{"field", "args.digest"}});
    if (arg_bool(args, "rsa_pss")) options.rsa_signature = engine::RsaSignature::Pss;
    return options;
}

std::string from_address(const mime::Entity& message) {
    const mime::Field* from = message.find("From");
    const std::string address = from ? mime::first_address(from->value) : std::string();
    if (address.empty())
        throw Error(Code::BadMessage, "the message has no From address to choose the signing identity by");
    return address;
}

// The identity that signs: the one named, else the active identity for the From address.
engine::Identity signer_for(Context& context, const json& args, const mime::Entity& message) {
    const std::string named = arg_string(args, "signer");
    if (!named.empty()) return context.store().identity(named);
    return context.store().signing_identity(from_address(message));
}

// The message without its Bcc fields: they must not travel inside or outside the encryption.
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

Reply sign(Context& context, Request& request) {
    const std::string_view text = request.payload.str();
    const mime::Entity message = mime::parse(text);
    const engine::Identity signer = signer_for(context, request.args, message);
    Reply reply;
    reply.payload = engine::sign(text, signer, sign_options(request.args));
    reply.result["signer"] = signer_json(signer);
    return reply;
}

Reply encrypt(Context& context, Request& request) {
    const std::string_view text = request.payload.str();
    const mime::Entity message = mime::parse(text);
    KeyStore& store = context.store();
    const std::string sender = from_address(message);

    std::vector<std::string> addresses;
    std::vector<std::string> bcc;
    if (request.args.contains("recipients")) {
        for (const auto& a : arg_strings(request.args, "recipients"))
            for (auto& parsed : mime::address_list(a)) addresses.push_back(std::move(parsed));
    } else {
        for (const char* name : {"To", "Cc"})
            for (const auto& field : message.fields)
                if (mime::iequals(field.name, name))
                    for (auto& a : mime::address_list(field.value)) addresses.push_back(std::move(a));
        for (const auto& field : message.fields)
            if (mime::iequals(field.name, "Bcc"))
                for (auto& a : mime::address_list(field.value)) bcc.push_back(std::move(a));
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
        throw Error(Code::NoCertificate, "no usable certificate for some recipients", {{"addresses", missing}});
    // The sender's own certificate, so the sent copy stays readable.
    auto own = store.own_recipient(sender);
    if (!own)
        throw Error(Code::NoIdentity, "no active identity for the sender " + sender + ": the sent copy would be unreadable",
                    {{"address", sender}});
    recipients.push_back(std::move(*own));

    engine::EncryptOptions options;
    std::optional<engine::Identity> signer;
    if (arg_bool(request.args, "sign")) {
        signer = signer_for(context, request.args, message);
        options.sign_with = &*signer;
        options.sign_options = sign_options(request.args);
    }
    Reply reply;
    reply.payload = SecureString(engine::encrypt(without_bcc(text, message), recipients, options));
    json names = json::array();
    for (const auto& r : recipients) names.push_back(r.address);
    reply.result["recipients"] = names;
    reply.result["bcc"] = bcc;  // each needs its own copy: message.encrypt with recipients: [address]
    reply.result["signed"] = signer.has_value();
    if (signer) reply.result["signer"] = signer_json(*signer);
    return reply;
}

Reply open(Context& context, Request& request, bool decrypt) {
    engine::VerifyOptions options;
    const engine::Opened opened = decrypt ? engine::decrypt(request.payload.str(), context.store(), options)
                                          : engine::verify(request.payload.str(), context.store(), options);
    Reply reply;
    reply.result["status"] = engine::to_json(opened.status);
    reply.payload = opened.mime;
    return reply;
}

const ArgSpec kMime{"mime", ArgType::Payload, true, "the whole RFC 5322 message (base64, or chunked)"};
const ArgSpec kOpaque{"opaque", ArgType::Boolean, false,
                      "application/pkcs7-mime signed-data instead of multipart/signed"};
const ArgSpec kDigest{"digest", ArgType::String, false, "sha256 (default), sha384 or sha512"};
const ArgSpec kPss{"rsa_pss", ArgType::Boolean, false, "sign RSA keys with RSASSA-PSS instead of PKCS#1 v1.5"};
const ArgSpec kSigner{"signer", ArgType::String, false,
                      "fingerprint of the identity to sign with (default: the active one for From)"};

}  // namespace

void register_message_ops(Registry& registry) {
    registry.add({"message.sign",
                  "Sign a message with your identity for its From address (or the one named).",
                  {kMime, kOpaque, kDigest, kPss, kSigner},
                  "{mime (signed message), signer{fingerprint}}",
                  "mime",
                  {"sign"},
                  sign});
    registry.add({"message.encrypt",
                  "Encrypt a message for its To and Cc recipients and yourself; optionally sign it first.",
                  {kMime,
                   {"recipients", ArgType::StringArray, false,
                    "encrypt for exactly these addresses (plus yourself) instead of To and Cc"},
                   {"sign", ArgType::Boolean, false, "sign before encrypting"},
                   kOpaque, kDigest, kPss, kSigner},
                  "{mime (encrypted message, Bcc fields removed), recipients[], bcc[] (addresses that each need "
                  "a separate copy), signed, signer?}",
                  "mime",
                  {"encrypt"},
                  encrypt});
    registry.add({"message.decrypt",
                  "Decrypt a message with your keys and verify any signature inside.",
                  {kMime},
                  "{mime (the inner message), status{level, layers[], signatures[]}}",
                  "mime",
                  {"decrypt"},
                  [](Context& c, Request& r) { return open(c, r, true); }});
    registry.add({"message.verify",
                  "Verify a signed message: who signed, trusted, valid, matching From, unchanged.",
                  {kMime},
                  "{mime (the signed content), status{level, layers[], signatures[]}}",
                  "mime",
                  {"verify"},
                  [](Context& c, Request& r) { return open(c, r, false); }});
    registry.add({"message.inspect",
                  "The protection level of a message (none, signed, encrypted, signed+encrypted), without keys.",
                  {kMime},
                  "{status{level, layers[]}}",
                  "",
                  {"inspect"},
                  [](Context&, Request& r) {
                      Reply reply;
                      reply.result["status"] = engine::to_json(engine::inspect(r.payload.str()));
                      return reply;
                  }});
}

}  // namespace smime
