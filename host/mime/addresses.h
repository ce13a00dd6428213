// SPDX-License-Identifier: MIT
// The one reader of RFC 5322 addresses (section 3.4 with the obsolete forms of section 4.4): From,
// To, Cc, Bcc and every other address a message names. Ambiguous input is refused, never guessed.
#pragma once

#include "mime/entity.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smime::mime {

struct Mailbox {
    // The phrase before the angle-addr: quoted strings unquoted, runs of white space and comments
    // dropped, RFC 2047 encoded-words in UTF-8, US-ASCII or ISO-8859-1 decoded to UTF-8.
    std::string display_name;
    // The addr-spec, lowercase: "alice.liddell@example.com". A local part that needs quotes keeps
    // them ("\"a b\"@example.com"); an obsolete route (<@relay:alice@example.com>) is dropped.
    std::string address;
};

// A field value in the address-list grammar (To, Cc, Bcc, Reply-To): every mailbox, groups
// included, in order. std::nullopt when the value is not an address-list: two addresses without a
// comma, an address in a display name, an unclosed quote, comment or angle bracket, a stray
// special character or control character, and so on. Empty list members (obs-addr-list) and
// empty groups ("undisclosed-recipients:;") are allowed and contribute nothing.
std::optional<std::vector<Mailbox>> parse_address_list(std::string_view value);

// A field value in the mailbox-list grammar of From (RFC 5322 section 3.6.2): as above, but a
// group is not a mailbox and makes the value unparseable.
std::optional<std::vector<Mailbox>> parse_mailbox_list(std::string_view value);

// The addresses of an address-list, lowercase, in order, without duplicates. Throws
// Error(BadMessage) naming `field` when the value does not parse.
std::vector<std::string> address_list(std::string_view value, std::string_view field = "address");

// Who a header says sent the message: exactly one From field holding exactly one mailbox
// (RFC 5322 section 3.6 allows one From field; RFC 8551 section 3.1 checks it against the
// signer). The Sender field plays no part.
struct FromAddress {
    enum class Problem { None, NoFrom, MultipleFromFields, MultipleMailboxes, Unparseable };
    Problem problem = Problem::NoFrom;
    std::string address;  // when problem is None
};

// From the values of every From field of one header set, in order.
FromAddress from_address(const std::vector<std::string_view>& from_values);
// From the From fields of `entity`.
FromAddress from_address(const Entity& entity);

// A sentence for people saying what is wrong with the From field.
std::string_view describe(FromAddress::Problem problem);

}  // namespace smime::mime
