// SPDX-License-Identifier: MIT
// Building SignedData and the MIME entity around it; shared by sign() and sign-then-encrypt.
#pragma once

#include "engine/engine.h"

#include <functional>
#include <string>

namespace smime::engine {

// Appends a canonical, 7-bit safe MIME entity (Content-Type field onwards) to its argument.
using EntityWriter = std::function<void(std::string&)>;

// Appends the signed MIME entity for what `write_entity` produces: multipart/signed with that
// entity as first part (written once, in place, and signed there), or application/pkcs7-mime
// signed-data when opaque. `size_hint` is the expected entity size, for one allocation.
void append_signed_entity(const EntityWriter& write_entity, std::size_t size_hint,
                          const Identity& signer, const SignOptions& options, std::string& out);

}  // namespace smime::engine
