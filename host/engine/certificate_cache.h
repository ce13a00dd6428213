// SPDX-License-Identifier: MIT
// Parsed certificates of recent messages, kept for the life of the process by their DER.
#pragma once

#include "util/ossl.h"

#include <cstddef>
#include <string_view>

namespace smime::engine {

// The certificate whose DER is exactly `der`: the object parsed for an earlier message with the
// same bytes, or parsed now and kept. nullptr when `der` is not one whole X.509 certificate.
// A correspondent's certificate and chain come with every message they sign, and OpenSSL 3.0
// decodes each certificate's public key through a decoder chain it builds anew each time. The
// objects are shared: callers must not change them. Certificates are public; the cache holds the
// last kMaxCachedCertificates of up to kMaxCachedDer bytes, since mail chooses them.
ossl::X509Ptr cached_certificate(std::string_view der);

// The key store's anchors, intermediates and the user's own certificates share it with mail's:
// room for a store of a few hundred, so that verifying does not decode them all again each time.
constexpr std::size_t kMaxCachedCertificates = 256;
constexpr std::size_t kMaxCachedDer = 16 * 1024;

// How many certificates the cache holds (for tests).
std::size_t cached_certificate_count();

}  // namespace smime::engine
