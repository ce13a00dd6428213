// SPDX-License-Identifier: MIT
// A minimal BER reader for the few CMS fields OpenSSL has no accessor for (the content-encryption
// algorithm of EnvelopedData / AuthEnvelopedData). Bounds-checked; never trusts a length.
#pragma once

#include <openssl/asn1.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::engine {

// The contentEncryptionAlgorithm OID of an EnvelopedData or AuthEnvelopedData ContentInfo, as a
// canonical name ("aes-256-cbc", "aes-256-gcm", "des-ede3-cbc", ...), or nullopt if unreadable.
std::optional<std::string> content_encryption_algorithm(std::string_view der);

// An (Auth)EnvelopedData with its encryptedContent taken out: `structure` is the object without
// that field (OPTIONAL in RFC 5652 section 6.1, i.e. "detached"), `ciphertext` the pieces of the
// content in order (views into the input). Parsing `structure` is cheap and decrypting reads the
// ciphertext straight from the input: OpenSSL's decoder would otherwise copy (and, for the
// chunked encoding streaming producers write, re-copy per chunk) the whole content. Enclosing
// elements of definite length get headers for their new lengths. nullopt when the object does
// not have that shape (OpenSSL then parses it whole).
struct DetachedContent {
    std::string structure;
    std::vector<std::string_view> ciphertext;
};
std::optional<DetachedContent> detach_encrypted_content(std::string_view der);

// Whether `prefix`, the first bytes of a ContentInfo (some 20 are enough), names EnvelopedData or
// AuthEnvelopedData as its content type.
bool names_enveloped_data(std::string_view prefix);

}  // namespace smime::engine
