// SPDX-License-Identifier: MIT
// The RFC 5322 address parser against a table of hard cases: what each value means, or that it is
// refused because any reading of it would be a guess.
#include "mime/addresses.h"
#include "util/error.h"

#include <doctest/doctest.h>

using namespace smime;
using namespace smime::mime;

namespace {

struct Row {
    const char* value;
    // Addresses in order, "|"-separated; "!" for a value that must be refused.
    const char* addresses;
    const char* first_display_name = nullptr;
};

std::string joined(const std::optional<std::vector<Mailbox>>& mailboxes) {
    if (!mailboxes) return "!";
    std::string out;
    for (const Mailbox& m : *mailboxes) out += (out.empty() ? "" : "|") + m.address;
    return out;
}

}  // namespace

TEST_CASE("address lists: the table of hard cases") {
    const Row rows[] = {
        // Plain forms, case folded.
        {"alice@example.com", "alice@example.com"},
        {"Alice <Alice@Example.COM>", "alice@example.com", "Alice"},
        {"<alice@example.com>", "alice@example.com", ""},
        {"  alice@example.com  ", "alice@example.com"},
        // Quoted display names may hold anything, addresses and brackets included.
        {"\"Bob <mallory@evil.example>\" <bob@example.com>", "bob@example.com",
         "Bob <mallory@evil.example>"},
        {"\"mallory@evil.example\" <bob@example.com>", "bob@example.com", "mallory@evil.example"},
        {"\"Bob, Jr.\" <bob@example.com>, carol@example.org", "bob@example.com|carol@example.org",
         "Bob, Jr."},
        {"\"a \\\"quoted\\\" \\\\ name\" <bob@example.com>", "bob@example.com",
         "a \"quoted\" \\ name"},
        // Comments, nested and with quoted pairs, anywhere white space may be.
        {"bob@example.com (<mallory@evil.example>)", "bob@example.com"},
        {"Bob (Mallory <mallory@evil.example>) <bob@example.com>", "bob@example.com", "Bob"},
        {"(c) bob (x) @ (y) example.com (z)", "bob@example.com"},
        {"bob@example.com (outer (inner \\) still) done)", "bob@example.com"},
        // Encoded-words decode into the display name only; they never make an address.
        {"=?utf-8?Q?Mallory_=3Cmallory=40evil=2Eexample=3E?= <bob@example.com>", "bob@example.com",
         "Mallory <mallory@evil.example>"},
        {"=?UTF-8?B?TWFsbG9yeSA8bWFsbG9yeUBldmlsLmV4YW1wbGU+?= <bob@example.com>",
         "bob@example.com", "Mallory <mallory@evil.example>"},
        {"=?iso-8859-1?q?J=F6rg?= =?iso-8859-1?q?_M=FCller?= <j@example.com>", "j@example.com",
         "J\xc3\xb6rg M\xc3\xbcller"},
        {"=?utf-8?q?bob=40example.com?=", "!"},
        {"=?utf-8?q?x<mallory@evil.example>?= <bob@example.com>", "!"},
        // Groups: their members count, empty groups and empty members are allowed.
        {"team: alice@example.com, \"Bob\" <bob@example.com>;",
         "alice@example.com|bob@example.com"},
        {"undisclosed-recipients:;", ""},
        {"a@example.com, , b@example.com,", "a@example.com|b@example.com"},
        {"team: a@example.com; , b@example.com", "a@example.com|b@example.com"},
        {"outer: inner: a@example.com;;", "!"},
        {"team: a@example.com", "!"},
        // Obsolete forms (RFC 5322 section 4.4).
        {"<@relay.example:alice@example.com>", "alice@example.com"},
        {"Alice <@r1.example,@r2.example:alice@example.com>", "alice@example.com"},
        {"<,@r1.example,,@r2.example:alice@example.com>", "alice@example.com"},
        {"alice . liddell @ example . com", "alice.liddell@example.com"},
        {"John Q. Public <jqp@example.com>", "jqp@example.com", "John Q. Public"},
        {"\"alice\"@example.com", "alice@example.com"},
        {"\"a b\"@example.com", "\"a b\"@example.com"},
        {"\"a\".b@example.com", "a.b@example.com"},
        {"alice@[192.0.2.1]", "alice@[192.0.2.1]"},
        // Ambiguous or malformed: refused.
        {"alice@example.com <bob@example.com>", "!"},
        {"bob@example.com carol@example.org", "!"},
        {"<alice@example.com> <bob@example.com>", "!"},
        {"Alice alice@example.com", "!"},
        {"<alice@example.com", "!"},
        {"alice@example.com>", "!"},
        {"\"unclosed <bob@example.com>", "!"},
        {"bob@example.com (unclosed", "!"},
        {"bob@example.com)", "!"},
        {"<>", "!"},
        {"alice", "!"},
        {"@example.com", "!"},
        {"alice@", "!"},
        {"alice@@example.com", "!"},
        {"alice..b@example.com", "!"},
        {".alice@example.com", "!"},
        {"alice@example..com", "!"},
        {"alice@example.com.", "!"},
        {"alice@exa\\mple.com", "!"},
        {"alice@exa\x01mple.com", "!"},
        {"\"ctl\x7f\" <a@example.com>", "!"},
        {"<@relay.example alice@example.com>", "!"},
        {"Alice <alice@example.com> extra", "!"},
        {"alice@[unclosed", "!"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.value);
        const auto parsed = parse_address_list(row.value);
        CHECK(joined(parsed) == row.addresses);
        if (row.first_display_name && parsed && !parsed->empty()) {
            CHECK(parsed->front().display_name == row.first_display_name);
        }
    }
}

TEST_CASE("From holds a mailbox list: groups are refused there") {
    CHECK(joined(parse_mailbox_list("Alice <alice@example.com>, bob@example.com")) ==
          "alice@example.com|bob@example.com");
    CHECK(joined(parse_mailbox_list("friends: alice@example.com;")) == "!");
    CHECK(joined(parse_mailbox_list("undisclosed-recipients:;")) == "!");
}

TEST_CASE("the From address: exactly one field with exactly one mailbox") {
    using P = FromAddress::Problem;
    const auto problem = [](std::vector<std::string_view> values) {
        return from_address(values).problem;
    };
    CHECK(problem({}) == P::NoFrom);
    CHECK(problem({""}) == P::NoFrom);
    CHECK(problem({"a@example.com", "a@example.com"}) == P::MultipleFromFields);
    CHECK(problem({"a@example.com, b@example.com"}) == P::MultipleMailboxes);
    CHECK(problem({"a@example.com <b@example.com>"}) == P::Unparseable);
    CHECK(problem({"group: a@example.com;"}) == P::Unparseable);
    const FromAddress one =
        from_address(std::vector<std::string_view>{"\"B <b@evil.example>\" <A@Example.com>"});
    CHECK(one.problem == P::None);
    CHECK(one.address == "a@example.com");
    // From a header: folded, the Sender field playing no part.
    const Entity header =
        parse("Sender: s@example.com\r\nFrom: Alice\r\n <alice@example.com>\r\n\r\n");
    CHECK(from_address(header).address == "alice@example.com");
}

TEST_CASE("address_list: lowercase, deduplicated, and an error naming the field") {
    CHECK(address_list("B@x.example, b@X.example, c@x.example") ==
          std::vector<std::string>{"b@x.example", "c@x.example"});
    try {
        address_list("a@x.example b@x.example", "To");
        FAIL("an ambiguous list must be refused");
    } catch (const Error& e) {
        CHECK(e.code() == Code::BadMessage);
        CHECK(e.details()["field"] == "To");
    }
}
