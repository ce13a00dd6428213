// SPDX-License-Identifier: MIT
// The Thunderbird add-on's raw-message steps: X-Mozilla fields dropped, header fields removed
// without touching the body, protection detected from the top-level Content-Type, addresses.
import {test} from "node:test";
import assert from "node:assert/strict";
import {addressList, addressOf, fieldValue, headerRecipients, protectionOf, removeField, splitAddresses, stripMozillaFields} from "../dist/units/tb-mime.mjs";

const body = "Bcc: not a header, this is the body\r\nX-Mozilla-Status: 0001\r\n";

test("getRaw's X-Mozilla fields (bare LF) go, the stored message stays byte for byte", () => {
  const stored = "From: a@example.test\r\nX-Mozilla-Draft-Info: kept\r\nSubject: hi\r\n\r\n" + body;
  const raw = "X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\nX-Mozilla-Keys:                 \n" + stored;
  assert.equal(stripMozillaFields(raw), stored);
  assert.equal(stripMozillaFields(stored), stored);
});

test("removeField removes every instance with its continuation lines, only in the header", () => {
  const raw = "From: a@example.test\r\nBcc: x@example.test,\r\n y@example.test\r\nTo: b@example.test\r\nbcc: z@example.test\r\n\r\n" + body;
  assert.equal(removeField(raw, "Bcc"), "From: a@example.test\r\nTo: b@example.test\r\n\r\n" + body);
  assert.equal(fieldValue(raw, "bcc"), "x@example.test, y@example.test");
  assert.equal(fieldValue(raw, "cc"), "");
});

test("protection from the top-level Content-Type", () => {
  const msg = (type) => `From: a@example.test\r\nContent-Type: ${type}\r\n\r\nbody\r\n`;
  assert.equal(protectionOf(msg('application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"')), "encrypted");
  assert.equal(protectionOf(msg("application/x-pkcs7-mime; name=smime.p7m")), "encrypted");
  assert.equal(protectionOf(msg('application/pkcs7-mime; smime-type="signed-data"')), "signed");
  assert.equal(protectionOf(msg('multipart/signed;\r\n protocol="application/pkcs7-signature"; micalg=sha-256; boundary=x')), "signed");
  assert.equal(protectionOf(msg('multipart/signed; protocol="application/pgp-signature"; boundary=x')), "none");
  assert.equal(protectionOf(msg("text/plain")), "none");
  assert.equal(protectionOf("From: a@example.test\n\nContent-Type: application/pkcs7-mime\n"), "none");
});

test("addresses from ComposeDetails entries", () => {
  assert.equal(addressOf('"Bob, B." <Bob@Example.test>'), "bob@example.test");
  assert.equal(addressOf(" carol@example.test "), "carol@example.test");
  assert.deepEqual(addressList(["Bob <bob@example.test>", "dave@example.test"]), ["bob@example.test", "dave@example.test"]);
  assert.deepEqual(addressList("a@example.test, B <b@example.test>"), ["a@example.test", "b@example.test"]);
  assert.deepEqual(addressList(undefined), []);
  assert.deepEqual(addressList(["Undisclosed recipients:;"]), []);
});

test("splitAddresses keeps quoted commas, comments and groups apart", () => {
  assert.deepEqual(splitAddresses(`"Doe, Jane" <jane@example.test>, (boss, really) bob@example.test, Team: a@example.test, "B" <b@example.test>;`),
    [`"Doe, Jane" <jane@example.test>`, "bob@example.test", "a@example.test", `"B" <b@example.test>`]);
  assert.deepEqual(addressList(`"Doe, Jane" <jane@example.test>, bob@example.test`), ["jane@example.test", "bob@example.test"]);
});

test("headerRecipients takes an expanded address-book list from the built message, not the compose entries", () => {
  // The compose window named the list "Team <Team>"; Thunderbird's built message has its members.
  const built = "From: me@example.test\r\nTo: \"Lee, Ann\" <ann@example.test>,\r\n Carl <carl@example.test>\r\n" +
    "Cc: dee@example.test\r\nBcc: =?UTF-8?Q?Ev=C3=A9?= <eve@example.test>\r\nSubject: x\r\n\r\nTo: body@example.test\r\n";
  assert.deepEqual(addressList(["Team <Team>"]), []);
  const r = headerRecipients(built);
  assert.deepEqual(r.to, ["ann@example.test", "carl@example.test"]);
  assert.deepEqual(r.cc, ["dee@example.test"]);
  assert.deepEqual(r.bcc, ["eve@example.test"]);
  assert.equal(r.hasBcc, true);
  assert.deepEqual(r.unresolved, []);
  const unexpanded = headerRecipients("To: Team <Team>, ann@example.test\r\n\r\n");
  assert.deepEqual(unexpanded.to, ["ann@example.test"]);
  assert.deepEqual(unexpanded.unresolved, ["Team <Team>"]);
  assert.equal(unexpanded.hasBcc, false);
});
