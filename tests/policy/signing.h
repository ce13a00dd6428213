// SPDX-License-Identifier: MIT
// For the policy tests: a host's store given the test user Alice, and a message signed with her
// key.
#pragma once

#include "e2e/host_process.h"
#include "util/base64.h"

#include <string>

namespace smime::test {

// Imports Alice's PKCS#12 `p12` (password "nss") into `host`'s store with request 1, signs
// `message` with request 2 and returns that reply.
inline json import_alice_and_sign(HostProcess& host, const std::string& p12,
                                  const std::string& message) {
    host.request({{"id", 1},
                  {"op", "identities.import"},
                  {"args", {{"pkcs12", base64::encode(p12)}, {"password", "nss"}}}});
    return host.request(
        {{"id", 2}, {"op", "message.sign"}, {"args", {{"mime", base64::encode(message)}}}});
}

}  // namespace smime::test
