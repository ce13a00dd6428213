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
// Whether a consuming_views_source has wiped and given back all of its part.
bool released_all(BIO* source);

// Gives a buffer the caller will not read again back to the system behind whatever reads it:
// wiped and its pages released (wipe_and_release) in steps of kReleaseStep ending on 64 KiB
// boundaries, the last one at its end. Each step costs a system call; buffers under
// kReleasedFrom are better left to go with their owner.
class ReleaseBehind {
public:
    static constexpr std::size_t kReleaseStep = 1u << 20;
    static constexpr std::size_t kReleasedFrom = 4u << 20;

    ReleaseBehind(char* begin, std::size_t size);
    // The first `read` bytes are done with.
    void done_upto(std::size_t read);
    // Whether every byte has been wiped and given back.
    bool all_released() const { return released_ == size_; }

private:
    char* begin_;
    std::size_t size_;
    std::size_t released_ = 0;
};

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
