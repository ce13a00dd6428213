// SPDX-License-Identifier: MIT
// A minimal BER reader for the few CMS fields OpenSSL has no accessor for (the content-encryption
// algorithm of EnvelopedData / AuthEnvelopedData). Bounds-checked; never trusts a length.
#pragma once

#include <openssl/asn1.h>

#include <optional>
#include <string>
#include <string_view>

namespace smime::engine {

// The contentEncryptionAlgorithm OID of an EnvelopedData or AuthEnvelopedData ContentInfo, as a
// canonical name ("aes-256-cbc", "aes-256-gcm", "des-ede3-cbc", ...), or nullopt if unreadable.
std::optional<std::string> content_encryption_algorithm(std::string_view der);

}  // namespace smime::engine
