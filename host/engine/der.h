// SPDX-License-Identifier: MIT
// Moving CMS objects between DER, MIME bodies and strings without needless copies.
#pragma once

#include "mime/entity.h"
#include "util/ossl.h"

#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

// A write-only BIO that appends to `target` (which must outlive it).
ossl::BioPtr string_sink(std::string& target);

// A write-only BIO that writes from `begin` on, at most `capacity` bytes, counting them in
// `written`; for content decrypted in place, in front of its own ciphertext. A write that would
// reach a byte `unread` (a views_source, or nullptr) has still to yield fails instead.
ossl::BioPtr front_sink(char* begin, std::size_t capacity, std::size_t& written, BIO* unread);

// A write-only BIO that appends what it is given to `target` as base64 in CRLF lines of 76
// characters, as a MIME body; finish_base64_lines writes the last, shorter line.
ossl::BioPtr base64_lines_sink(std::string& target);
void finish_base64_lines(BIO* sink);

// A read-only BIO yielding `parts` one after the other (the views must outlive it): lets CMS read
// header fields and a body that are not contiguous without copying them together.
ossl::BioPtr views_source(std::vector<std::string_view> parts);
// The same, giving part `consumed` back as it is read: that part's bytes, at `writable` in a
// buffer the caller owns and will not read again, are wiped and their pages returned to the
// system every few MiB (wipe_and_release), so a large message and what is made of it are not
// held in full at once.
ossl::BioPtr consuming_views_source(std::vector<std::string_view> parts, std::size_t consumed,
                                    char* writable);

// Parses DER (or BER) ContentInfo. Throws Error(BadMessage).
ossl::CmsPtr read_cms(std::string_view der);

// Decodes an application/pkcs7-* body by its transfer encoding and parses it.
ossl::CmsPtr read_cms_body(const mime::Entity& entity);

// DER of `cms`. Throws Error(Internal).
std::string write_der(CMS_ContentInfo* cms);

// Frees the BIOs of a CMS_dataInit chain down to, but not including, `keep` (the caller's BIO).
void free_chain_upto(BIO* chain, BIO* keep);

// Random hex for MIME boundaries.
std::string random_hex(std::size_t bytes);

}  // namespace smime::engine
