// SPDX-License-Identifier: MIT
// Encryption: EnvelopedData or AuthEnvelopedData with one RecipientInfo per recipient, choosing
// algorithms from what every recipient advertised (RFC 8551 section 2.7.1). The content streams
// from the caller's buffer through the cipher into the output (no intermediate copies).
#include "engine/der.h"
#include "engine/engine.h"
#include "engine/signer.h"
#include "mime/canonical.h"
#include "mime/encoding.h"
#include "mime/header_protection.h"
#include "util/error.h"
#include "util/large_buffer.h"
#include "util/log.h"
#include "util/providers.h"
#include "util/secure.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <optional>

namespace smime::engine {
namespace {

bool advertised(const Recipient& recipient, std::string_view capability) {
    return std::find(recipient.capabilities.begin(), recipient.capabilities.end(), capability) !=
           recipient.capabilities.end();
}

[[noreturn]] void encryption_failed(const char* what) {
    log::openssl_errors(what);
    throw Error(Code::Internal, std::string("encryption failed: ") + what);
}

void add_recipient(CMS_ContentInfo* cms, const Recipient& recipient) {
    EVP_PKEY* key = recipient.certificate ? X509_get0_pubkey(recipient.certificate.get()) : nullptr;
    const int type = key ? EVP_PKEY_get_base_id(key) : EVP_PKEY_NONE;
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        ERR_clear_error();
        throw Error(Code::NoCertificate, "no usable certificate for a recipient",
                    {{"addresses", nlohmann::json::array({recipient.address})}});
    }
    // Key agreement with an EC recipient makes an ephemeral private key: its private number
    // belongs in the secure heap like any other.
    if (type == EVP_PKEY_EC) use_secure_heap();
    const bool oaep = type == EVP_PKEY_RSA && advertised(recipient, "rsaes-oaep");
    const bool tune = oaep || type == EVP_PKEY_EC;
    CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms, recipient.certificate.get(),
                                                    CMS_BINARY | (tune ? CMS_KEY_PARAM : 0u));
    if (!ri) encryption_failed("adding a recipient");
    if (!tune) return;
    EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
    if (!pctx) encryption_failed("recipient key parameters");
    if (oaep) {
        // RFC 8551 section 2.3 / RFC 4055: RSAES-OAEP with SHA-256 and MGF1-SHA-256.
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
            encryption_failed("selecting RSAES-OAEP");
        }
    } else if (EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
        // RFC 5753 / RFC 8551 section 2.3: dhSinglePass-stdDH-sha256kdf-scheme.
        encryption_failed("selecting the ECDH KDF");
    }
}

}  // namespace

namespace {

// `consumable`, when given, holds `mime_text` and is given back as it is encrypted.
std::string encrypt_message(std::string_view mime_text, SecureString* consumable,
                            const std::vector<Recipient>& recipients,
                            const EncryptOptions& options) {
    if (recipients.empty()) {
        throw Error(Code::NoCertificate, "no recipients", {{"addresses", nlohmann::json::array()}});
    }
    mime::Split split = mime::split(mime_text);
    if (options.protect_headers) mime::protect_headers(split, mime::Protection::Cipher);

    // The content: the entity in place when it is canonical already, else a canonical copy; with
    // signing, the signed entity (signing needs 7-bit safe content, encryption alone does not).
    SecureString entity;
    std::vector<std::string_view> content;
    if (options.sign_with) {
        // append_signed_entity and append_entity reserve the entity's room themselves.
        std::optional<ReleaseBehind> release;
        if (consumable && split.body.size() >= ReleaseBehind::kReleasedFrom &&
            consumable->holds(split.body)) {
            release.emplace(
                consumable->mutable_str().data() + (split.body.data() - consumable->data()),
                split.body.size());
        }
        bool written = false;
        const auto write = [&](std::string& target) {
            if (!release) return mime::append_entity(split, true, target);
            // The signer writes the entity again only if its random boundary occurs in it (2^-96);
            // a body given back cannot be copied twice: refuse rather than sign what is left.
            if (written) throw Error(Code::Internal, "the message cannot be signed again");
            written = true;
            mime::append_entity(split, true, target, [&](std::string_view copied) {
                release->done_upto(copied.size());
            });
        };
        append_signed_entity(write, split.body.size(), *options.sign_with, options.sign_options,
                             entity.mutable_str());
        content = {entity.str()};
        // The body is wiped and its pages given back already: the rest of the message goes now,
        // without bringing those pages back (split.body is not read again).
        if (release && release->all_released()) consumable->wipe_rest_and_free(split.body);
    } else if (mime::body_ready(split, false)) {
        content = {split.content_fields, "\r\n", split.body};
    } else {
        mime::append_entity(split, false, entity.mutable_str());
        content = {entity.str()};
    }
    std::size_t size = 0;
    for (const std::string_view part : content) size += part.size();

    const bool gcm = std::all_of(recipients.begin(), recipients.end(),
                                 [](const Recipient& r) { return advertised(r, "aes256-gcm"); });
    const unsigned int flags = CMS_BINARY | CMS_PARTIAL | CMS_STREAM;
    const ossl::CmsPtr cms(
        CMS_encrypt(nullptr, nullptr, gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc(), flags));
    if (!cms) encryption_failed("creating EnvelopedData");
    for (const Recipient& recipient : recipients) add_recipient(cms.get(), recipient);

    // The CMS object goes straight into the MIME body as base64 lines: no DER copy in between.
    std::string out;
    const std::size_t der_size = size + size / 64 + 4096 * recipients.size() + 16384;
    reserve_large(out, split.outer_headers.size() + der_size * 4 / 3 + der_size / 28 + 512);
    out.append(split.outer_headers)
        .append("MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=")
        .append(gcm ? "authEnveloped-data" : "enveloped-data")
        .append(
            "; name=\"smime.p7m\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
            "Content-Description: S/MIME Encrypted Message\r\n\r\n");
    {
        // The message's own body is given back as it is read; a content made apart from it (a
        // signed or canonical copy) lets the whole message go now.
        const bool body_in_message =
            consumable && content.size() == 3 && consumable->holds(content[2]);
        if (consumable && content.size() == 1) consumable->wipe_and_free();
        // A content of our own (signed or canonical copy) is given back as it is read, too.
        const ossl::BioPtr in =
            body_in_message       ? consuming_views_source(content, 2,
                                                           consumable->mutable_str().data() +
                                                               (content[2].data() - consumable->data()))
            : content.size() == 1 ? consuming_views_source(content, 0, entity.mutable_str().data())
                                  : views_source(content);
        const ossl::BioPtr sink = base64_lines_sink(out);
        if (!i2d_CMS_bio_stream(sink.get(), cms.get(), in.get(), static_cast<int>(flags))) {
            encryption_failed("encrypting the content");
        }
        finish_base64_lines(sink.get());
        // Every byte given back is wiped already; wiping it again would only bring its pages
        // back. The message (with its body given back) goes now rather than with the request.
        if (released_all(in.get())) {
            if (body_in_message) consumable->wipe_rest_and_free(content[2]);
            else entity.wipe_rest_and_free(entity.str());
        }
    }
    entity.wipe();
    return out;
}

}  // namespace

std::string encrypt(std::string_view mime_text, const std::vector<Recipient>& recipients,
                    const EncryptOptions& options) {
    return encrypt_message(mime_text, nullptr, recipients, options);
}

std::string encrypt(SecureString& message, const std::vector<Recipient>& recipients,
                    const EncryptOptions& options) {
    return encrypt_message(message.str(), &message, recipients, options);
}

}  // namespace smime::engine
