// SPDX-License-Identifier: MIT
// A minimal BER reader for the few CMS fields OpenSSL has no accessor for (the content-encryption
// algorithm of EnvelopedData / AuthEnvelopedData), and for taking a field out of a CMS object
// before OpenSSL parses it. Bounds-checked; never trusts a length.
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

// A SignedData with its certificates field taken out: `structure` is the object without it (the
// field is OPTIONAL, RFC 5652 section 5.1), `certificates` each entry's DER in order (views into
// the input). The same certificates come with every message a correspondent signs, and parsing
// them (their public keys above all) is most of parsing a small SignedData: the caller can take
// them from a cache. nullopt unless the field is there with 1 to kMaxDetachedCertificates entries,
// each a plain X.509 certificate (the other CertificateChoices are left to OpenSSL).
constexpr std::size_t kMaxDetachedCertificates = 16;
struct DetachedCertificates {
    std::string structure;
    std::vector<std::string_view> certificates;
};
std::optional<DetachedCertificates> detach_certificates(std::string_view der);

// Whether `prefix`, the first bytes of a ContentInfo (some 20 are enough), names EnvelopedData or
// AuthEnvelopedData as its content type.
bool names_enveloped_data(std::string_view prefix);

}  // namespace smime::engine
