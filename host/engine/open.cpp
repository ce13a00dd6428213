// SPDX-License-Identifier: MIT
// The layer walker behind decrypt(), verify() and inspect(): peels multipart/signed,
// application/pkcs7-mime signed-data and (auth-)enveloped-data layers until plain content remains.
#include "engine/ber.h"
#include "engine/decrypt_enveloped.h"
#include "engine/der.h"
#include "engine/engine.h"
#include "engine/verify_signed.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "mime/entity.h"
#include "mime/header_protection.h"
#include "util/error.h"
#include "util/large_buffer.h"
#include "util/providers.h"
#include "util/text.h"

#include <algorithm>
#include <deque>

namespace smime::engine {
namespace {

// Content ciphers the default provider has. Others (RC2, DES) need the legacy provider, a shared
// object that costs a fresh process more than decrypting a small message: loaded only for them.
// The names are OpenSSL's long names, as content_encryption_algorithm gives them.
bool in_default_provider(std::string_view algorithm) {
    static constexpr std::string_view kDefault[] = {"aes-128-cbc", "aes-192-cbc", "aes-256-cbc",
                                                    "aes-128-gcm", "aes-192-gcm", "aes-256-gcm",
                                                    "des-ede3-cbc"};
    return std::find(std::begin(kDefault), std::end(kDefault), algorithm) != std::end(kDefault);
}

// Deeper nesting than this is hostile or broken (RFC 8551 needs at most triple wrapping).
constexpr int kMaxLayers = 8;
// Spare capacity in a decrypted buffer for the outer header fields put in front of it.
constexpr std::size_t kHeaderRoom = 64 * 1024;

enum class Mode { Inspect, Verify, Decrypt };

// A KeyProvider for inspect(), which must never need one.
class NoKeys final : public KeyProvider {
public:
    std::vector<Identity> decryption_identities() override { return {}; }
    std::vector<ossl::X509Ptr> trust_anchors() override { return {}; }
    std::vector<ossl::X509Ptr> intermediates() override { return {}; }
    std::vector<ossl::X509CrlPtr> crls() override { return {}; }
    void harvest(const Harvest&) override {}
};

// True when `content` has a bare LF (not canonical CRLF).
bool needs_crlf(std::string_view content) {
    for (std::size_t pos = content.find('\n'); pos != std::string_view::npos;
         pos = content.find('\n', pos + 1)) {
        if (pos == 0 || content[pos - 1] != '\r') return true;
    }
    return false;
}

bool is_signature_type(const mime::ContentType& type) {
    return type.is("application/pkcs7-signature") || type.is("application/x-pkcs7-signature");
}

bool is_pkcs7_mime(const mime::ContentType& type, const mime::Entity& entity) {
    if (type.is("application/pkcs7-mime") || type.is("application/x-pkcs7-mime")) return true;
    // Some clients label S/MIME as octet-stream and rely on the .p7m name (RFC 8551 section 3.2.1).
    if (!type.is("application/octet-stream")) return false;
    std::string name = type.param("name");
    if (name.empty()) {
        if (const mime::Field* disposition = entity.find("Content-Disposition")) {
            name = mime::parse_content_type(
                       "x/x;" + disposition->value.substr(disposition->value.find(';') + 1))
                       .param("filename");
        }
    }
    name = text::ascii_lower(name);
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".p7m") == 0;
}

class Walker {
public:
    Walker(Mode mode, KeyProvider& keys, const VerifyOptions& options, std::string from,
           SecureString* owned)
        : mode_(mode), context_(keys, options, std::move(from)), identities_(keys), owned_(owned) {}

    // Returns the innermost entity's text (a view into the input or into a buffer kept here).
    // Content inside a layer that is not MIME at all (CMS made by non-mail tools) sets `raw`.
    std::string_view walk(std::string_view text) {
        for (int depth = 0;; ++depth) {
            mime::Entity entity;
            try {
                entity = mime::parse(text);
            } catch (const Error&) {
                if (depth == 0) throw;
                raw = true;
                return text;
            }
            const mime::ContentType type = mime::content_type(entity);
            std::optional<std::string_view> next;
            if (depth >= kMaxLayers &&
                (type.is("multipart/signed") || is_pkcs7_mime(type, entity))) {
                throw Error(Code::BadMessage, "too many S/MIME layers");
            }
            if (is_signature_type(type)) {
                throw Error(Code::BadMessage, "a detached signature without the content it signs");
            }
            if (type.is("multipart/signed")) {
                next = detached_layer(entity, type);
            } else if (is_pkcs7_mime(type, entity)) {
                next = pkcs7_layer(entity);
            }
            if (!next) return text;
            if (not_mail) {
                // Signed content of another type than id-data is no message (RFC 8551 section
                // 3.1): never parse it as one.
                raw = true;
                return *next;
            }
            text = *next;
        }
    }

    Status status;
    bool raw = false;
    bool not_mail = false;  // the innermost content is not id-data: only ever opaque bytes

private:
    std::optional<std::string_view> detached_layer(const mime::Entity& entity,
                                                   const mime::ContentType& type) {
        const mime::Multipart multipart =
            mime::split_multipart(entity.body, type.param("boundary"));
        if (multipart.parts.size() != 2)
            throw Error(Code::BadMessage, "multipart/signed needs exactly two parts");
        const mime::Entity signature_part = mime::parse(multipart.parts[1]);
        if (!is_signature_type(mime::content_type(signature_part))) {
            // Not S/MIME (e.g. PGP/MIME): not ours to judge; the content is what is left.
            return std::nullopt;
        }
        const std::size_t layer = status.layers.size();
        status.layers.push_back({LayerStatus::Kind::Signed, true, false, {}});
        if (mode_ != Mode::Inspect) {
            const ossl::CmsPtr cms = read_cms_body(signature_part);
            require_signed_data(cms.get());
            // RFC 8551 section 3.1.1: the signature covers the canonical (CRLF) form. When the
            // part arrived with bare LFs, what was verified (the canonical form) is what the
            // caller gets: returning the bytes as they came would let line ends inside a binary
            // attachment change under a good signature.
            const std::string_view content = multipart.parts[0];
            learn_sender(content);
            if (needs_crlf(content)) {
                std::string& canonical = keep();
                mime::append_crlf(content, canonical);
                add_signatures(
                    verify_signed_data(cms.get(), std::string_view(canonical), nullptr, context_),
                    layer);
                return std::string_view(canonical);
            }
            add_signatures(verify_signed_data(cms.get(), content, nullptr, context_), layer);
        }
        return multipart.parts[0];
    }

    std::optional<std::string_view> pkcs7_layer(const mime::Entity& entity) {
        const std::string encoding = mime::transfer_encoding(entity);
        SecureString decoded;  // the object holds the content, which may be decrypted mail
        const std::optional<std::string_view> in_place = decode_in_place(entity.body, encoding);
        if (!in_place && !mime::decode_body(entity.body, encoding, decoded.mutable_str())) {
            throw Error(Code::BadMessage, "the S/MIME part's transfer encoding is malformed");
        }
        const std::string_view der = in_place ? *in_place : std::string_view(decoded.str());
        // Decrypting: parse the structure without its (large) encrypted content where possible.
        std::optional<DetachedContent> detached;
        if (mode_ == Mode::Decrypt) detached = detach_encrypted_content(der);
        const ossl::CmsPtr cms =
            read_cms(detached ? std::string_view(detached->structure) : std::string_view(der));
        const int type = OBJ_obj2nid(CMS_get0_type(cms.get()));
        require_declared_type(entity, type);
        const std::size_t layer = status.layers.size();
        if (type == NID_pkcs7_signed) {
            STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms.get());
            if (!signers || sk_CMS_SignerInfo_num(signers) == 0) {
                status.layers.push_back({LayerStatus::Kind::CertsOnly, false, false, {}});
                return std::nullopt;
            }
            status.layers.push_back({LayerStatus::Kind::Signed, false, false, {}});
            std::string& content = keep();
            if (mode_ == Mode::Inspect) {
                ASN1_OCTET_STRING** os = CMS_get0_content(cms.get());
                if (!os || !*os) throw Error(Code::BadMessage, "signed-data without content");
                content.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*os)),
                               static_cast<std::size_t>(ASN1_STRING_length(*os)));
            } else {
                if (ASN1_OCTET_STRING** os = CMS_get0_content(cms.get()); os && *os) {
                    learn_sender(
                        std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*os)),
                                         static_cast<std::size_t>(ASN1_STRING_length(*os))));
                }
                add_signatures(verify_signed_data(cms.get(), std::nullopt, &content, context_),
                               layer);
            }
            not_mail = OBJ_obj2nid(CMS_get0_eContentType(cms.get())) != NID_pkcs7_data;
            return content;
        }
        if (type == NID_pkcs7_enveloped || type == NID_id_smime_ct_authEnvelopedData) {
            const auto kind = type == NID_pkcs7_enveloped ? LayerStatus::Kind::Enveloped
                                                          : LayerStatus::Kind::AuthEnveloped;
            status.layers.push_back({kind, false, false, {}});
            status.layers[layer].authenticated = kind == LayerStatus::Kind::AuthEnveloped;
            if (mode_ != Mode::Decrypt) return std::nullopt;
            const std::string algorithm = content_encryption_algorithm(der).value_or("");
            if (!in_default_provider(algorithm)) ensure_legacy_provider();
            std::string& content = keep();
            const ossl::BioPtr ciphertext = detached ? views_source(detached->ciphertext) : nullptr;
            if (in_place) {
                // The message's buffer becomes the content's.
                std::string& message = owned_->mutable_str();
                decrypt_enveloped_in_place(cms.get(), ciphertext.get(), identities_,
                                           status.layers[layer].authenticated, message);
                content.swap(message);
                owned_ = nullptr;
                released_ = true;
            } else {
                release_input(entity.body);
                // Room for the header fields that go in front of the content in the same buffer.
                SecureString plaintext =
                    decrypt_enveloped(cms.get(), ciphertext.get(), identities_,
                                      der.size() + kHeaderRoom, status.layers[layer].authenticated);
                content.swap(plaintext.mutable_str());
            }
            status.layers[layer].decrypted = true;
            status.layers[layer].content_encryption = algorithm;
            return content;
        }
        // compressed-data, digested-data, ...: not a protection layer we open.
        return std::nullopt;
    }

    // A signed layer whose content carries header fields of its own (RFC 9788): its From, not the
    // outer one, is the sender the key store hears about with the signer's certificate.
    void learn_sender(std::string_view content) {
        try {
            const mime::Entity entity = mime::parse(content);
            if (!entity.find("From")) return;
            const mime::FromAddress from = mime::from_address(entity);
            context_.set_from_address(
                from.problem == mime::FromAddress::Problem::None ? from.address : std::string());
        } catch (const Error&) {
            // Not MIME: the walk reports it, or takes the content as it is.
        }
    }

    // A part that says it holds signed or enveloped data (smime-type, RFC 8551 section 3.2.2)
    // must hold one of those: anything else is malformed, not an unprotected message. A mix-up
    // between them is opened for what it is (.NET labels EnvelopedData "signed-data").
    static void require_declared_type(const mime::Entity& entity, int type) {
        const std::string declared =
            text::ascii_lower(mime::content_type(entity).param("smime-type"));
        const bool declared_protection = declared == "signed-data" ||
                                         declared == "enveloped-data" ||
                                         declared == "authenveloped-data";
        const bool protection = type == NID_pkcs7_signed || type == NID_pkcs7_enveloped ||
                                type == NID_id_smime_ct_authEnvelopedData;
        if (declared_protection && !protection) {
            throw Error(Code::BadMessage,
                        "the S/MIME part is not the " + declared + " it declares");
        }
    }

    static void require_signed_data(CMS_ContentInfo* cms) {
        if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
            throw Error(Code::BadMessage, "the signature part is not SignedData");
        }
    }

    void add_signatures(std::vector<SignatureStatus> signatures, std::size_t layer) {
        for (SignatureStatus& s : signatures) {
            s.layer = layer;
            status.signatures.push_back(std::move(s));
        }
    }

    std::string& keep() { return buffers_.emplace_back().mutable_str(); }

    bool owns(std::string_view part) const { return owned_ && owned_->holds(part); }

    // Decrypting the message we were given, whose (outermost) encrypted part this is: its body is
    // decoded where it lies, and decrypting writes the content over it
    // (decrypt_enveloped_in_place), so a large message is held once instead of encoded, decoded and
    // decrypted at once. Only for enveloped data, the one layer after which the message is not
    // needed again; base64 and unencoded bodies only. The DER, in the message's buffer; nullopt:
    // decode a copy.
    std::optional<std::string_view> decode_in_place(std::string_view body,
                                                    const std::string& encoding) {
        if (mode_ != Mode::Decrypt || !owns(body)) return std::nullopt;
        const bool base64 = encoding == "base64";
        if (!base64 && encoding != "7bit" && encoding != "8bit" && encoding != "binary")
            return std::nullopt;
        if (!base64) return names_enveloped_data(body) ? std::optional(body) : std::nullopt;
        // The content type from the first 16 groups (48 bytes).
        unsigned char prefix[48];
        const auto prefix_size = base64::decode_lenient_to(body, prefix, 16);
        if (!prefix_size || !names_enveloped_data(std::string_view(
                                reinterpret_cast<const char*>(prefix), *prefix_size)))
            return std::nullopt;
        char* const at = owned_->mutable_str().data() + (body.data() - owned_->data());
        const auto size = base64::decode_lenient_to(body, reinterpret_cast<unsigned char*>(at));
        if (!size)
            throw Error(Code::BadMessage, "the S/MIME part's transfer encoding is malformed");
        return std::string_view(at, *size);
    }

    // Once the outer encrypted body is decoded, the message we were given (when it is ours to
    // free) is not needed any more: let it go, so a large message is not held encoded and decoded
    // at once while the plaintext grows. Only before decrypting, whose result replaces it.
    void release_input(std::string_view body) {
        if (!owns(body)) return;
        owned_->wipe_and_free();
        owned_ = nullptr;
        released_ = true;
    }

public:
    bool released() const { return released_; }

    // After the From check of every signature: the key store learns what they teach.
    void hand_over_harvests() { engine::hand_over_harvests(status, context_); }

    // The kept buffer that is exactly `inner`, if any, so the result can be built in place.
    std::string* buffer_holding(std::string_view inner) {
        for (SecureString& buffer : buffers_) {
            if (buffer.data() == inner.data() && buffer.size() == inner.size())
                return &buffer.mutable_str();
        }
        return nullptr;
    }

private:
    Mode mode_;
    VerifyContext context_;
    IdentityCache identities_;
    std::deque<SecureString> buffers_;  // decrypted and encapsulated contents, wiped at the end
    SecureString* owned_;               // the message, if the caller handed it over
    bool released_ = false;
};

// Well-formed UTF-8 without control characters other than tab and line ends.
bool utf8_text(std::string_view text) {
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') return false;
    }
    return text::valid_utf8(text);
}

// The From check of every signature, against the From that the opened message shows.
void check_signers(Status& status, const mime::FromAddress& from) {
    for (SignatureStatus& signature : status.signatures) check_from(signature, from);
}

std::string sender_address(const mime::FromAddress& from) {
    return from.problem == mime::FromAddress::Problem::None ? from.address : std::string();
}

// True when some leaf of `entity` carries raw bytes: binary transfer encoding, or a non-text type
// without an encoding. Such a body is returned exactly as it is: converting its line ends would
// change the bytes of an attachment.
bool has_raw_part(const mime::Entity& entity, int depth = 0) {
    if (depth > mime::kMaxDepth) return true;
    const mime::ContentType type = mime::content_type(entity);
    const std::string encoding = mime::transfer_encoding(entity);
    if (type.type == "multipart") {
        try {
            for (const std::string_view part :
                 mime::split_multipart(entity.body, type.param("boundary")).parts) {
                if (has_raw_part(mime::parse(part), depth + 1)) return true;
            }
        } catch (const Error&) {
            return true;  // not parseable: not ours to rewrite
        }
        return false;
    }
    if (encoding == "binary") return true;
    const bool identity = encoding == "7bit" || encoding == "8bit";
    return identity && type.type != "text" && type.type != "message";
}

// `owned`, when given, holds `message` and may be released once no longer needed.
Opened open_message(std::string_view message, SecureString* owned, KeyProvider& keys,
                    const VerifyOptions& options, Mode mode) {
    // Copied: the message may be released while its layers are opened.
    const std::vector<mime::HeaderField> outer = mime::message_fields(mime::parse(message));
    const mime::FromAddress outer_from = mime::open_header(outer, nullptr).from;
    Walker walker(mode, keys, options, sender_address(outer_from), owned);
    const std::string_view inner = walker.walk(message);
    Opened opened;
    walker.status.level = level_of(walker.status.layers);
    if (walker.status.layers.empty() || (!walker.released() && inner.data() == message.data())) {
        check_signers(walker.status, outer_from);
        walker.hand_over_harvests();
        // After the From check: only a signature that is good in every respect covers the content.
        warn_unauthenticated(walker.status);
        if (owned) opened.mime.append(std::move(*owned));
        else if (options.refer_to_input) opened.mime.append_view(message);
        else opened.mime.append(SecureString(std::string(message)));
        opened.status = std::move(walker.status);
        return opened;
    }
    // One set of header fields (the protected ones win, RFC 9788), then the innermost entity.
    std::optional<mime::Entity> entity;
    if (!walker.raw) entity = mime::parse(inner);
    mime::OpenedHeader header = mime::open_header(outer, entity ? &*entity : nullptr);
    check_signers(walker.status, header.from);
    walker.hand_over_harvests();
    warn_unauthenticated(walker.status);
    walker.status.header_protection = {header.is_protected, std::move(header.differing_fields)};
    std::string out = std::move(header.fields);
    out.append("MIME-Version: 1.0\r\n");
    opened.status = std::move(walker.status);

    // The body stays as it is when it is canonical already or carries raw bytes (an attachment
    // whose line ends must not be converted).
    const bool keep_body = entity && (!needs_crlf(entity->body) || has_raw_part(*entity));
    std::string* buffer = entity ? walker.buffer_holding(inner) : nullptr;
    if (buffer && keep_body) {
        // Common case (decrypted or encapsulated content that is canonical already): put the
        // header in front of the body inside the buffer that holds it, without a copy.
        out.append(header.content_fields).append("\r\n");
        const std::size_t body_offset =
            static_cast<std::size_t>(entity->body.data() - buffer->data());
        // Only in place: a reallocation would free the plaintext without wiping it.
        if (buffer->size() - body_offset + out.size() <= buffer->capacity()) {
            buffer->replace(0, body_offset, out);
            cleanse(out);
            cleanse(header.content_fields);
            opened.mime.append(SecureString(std::move(*buffer)));
            return opened;
        }
        out.resize(out.size() - header.content_fields.size() - 2);
    }
    // A body that stays as it is and lies in the caller's input is referred to, not copied.
    const bool in_input =
        entity && !owned && options.refer_to_input && entity->body.data() >= message.data() &&
        entity->body.data() + entity->body.size() <= message.data() + message.size();
    if (keep_body && in_input) {
        out.append(header.content_fields).append("\r\n");
        cleanse(header.content_fields);
        opened.mime.append(SecureString(std::move(out)));
        opened.mime.append_view(entity->body);
        return opened;
    }
    reserve_large(out, out.size() + inner.size() + inner.size() / 32 + 64);
    if (entity) {
        out.append(header.content_fields).append("\r\n");
        if (keep_body) {
            out.append(entity->body);
        } else {
            mime::append_crlf(entity->body, out);
        }
    } else if (!walker.not_mail && (mime::is_7bit_safe(inner) || utf8_text(inner))) {
        out.append(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
        mime::append_crlf(inner, out);
    } else {
        out.append(
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        mime::append_base64_lines(inner, out);
    }
    cleanse(header.content_fields);
    opened.mime.append(SecureString(std::move(out)));
    return opened;
}

}  // namespace

Opened decrypt(std::string_view mime_text, KeyProvider& keys, const VerifyOptions& options) {
    return open_message(mime_text, nullptr, keys, options, Mode::Decrypt);
}

Opened decrypt(SecureString&& mime_text, KeyProvider& keys, const VerifyOptions& options) {
    SecureString message = std::move(mime_text);
    const std::string_view view = message.str();
    return open_message(view, &message, keys, options, Mode::Decrypt);
}

Opened verify(std::string_view mime_text, KeyProvider& keys, const VerifyOptions& options) {
    return open_message(mime_text, nullptr, keys, options, Mode::Verify);
}

Status inspect(std::string_view mime_text) {
    NoKeys none;
    const VerifyOptions options;
    return open_message(mime_text, nullptr, none, options, Mode::Inspect).status;
}

}  // namespace smime::engine
