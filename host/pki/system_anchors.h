// SPDX-License-Identifier: MIT
// The operating system's trust anchors (ca-certificates), found on demand: a path reads only the
// roots it needs instead of every process parsing the whole bundle before its first verification.
#pragma once

#include "util/ossl.h"

#include <openssl/x509_vfy.h>

#include <string>
#include <vector>

namespace smime::pki {

// Where the system keeps its anchors, as OpenSSL names them: the hashed directories
// (SSL_CERT_DIR, colon-separated, else OpenSSL's default directory) that hold at least one
// `<subject hash>.<n>` entry, and the bundle file (SSL_CERT_FILE, else OpenSSL's default file).
struct SystemAnchorLocations {
    std::vector<std::string> hashed_directories;
    std::string bundle_file;
};

// Looked up once per process (the environment does not change while the host runs).
const SystemAnchorLocations& system_anchor_locations();

// Every anchor of the bundle, parsed on first use and kept for the process: for callers that
// need the anchors themselves rather than a store that finds them.
const std::vector<ossl::X509Ptr>& system_bundle();

// Makes the system's anchors trusted in `store`. With hashed directories, a directory lookup:
// a path building step reads the one file named after the issuer it needs, and nothing when the
// user's own anchors end the path. Without them (systems that ship only a bundle), the bundle,
// parsed once per process and shared by every store. Returns false if neither could be added.
bool add_system_anchors(X509_STORE* store);

}  // namespace smime::pki
