// SPDX-License-Identifier: MIT
// Address lists of RFC 5322 section 3.4 (To, Cc, Bcc): every mailbox's addr-spec, groups included.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smime::mime {

// "Alice <A@Example.com>, \"Bob, Jr.\" <bob@x.org>, team: c@x.org, d@x.org;" gives
// {"a@example.com", "bob@x.org", "c@x.org", "d@x.org"}: lowercase, in order, without duplicates.
// Comments and display names are dropped; entries without an '@' are ignored.
std::vector<std::string> address_list(std::string_view value);

}  // namespace smime::mime
