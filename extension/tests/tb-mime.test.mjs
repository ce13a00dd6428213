// SPDX-License-Identifier: MIT
// The Thunderbird add-on's raw-message steps: X-Mozilla fields dropped, header fields removed
// without touching the body, protection detected from the top-level Content-Type, addresses.
import {test} from "node:test";
import assert from "node:assert/strict";
import {addressList, addressOf, fieldValue, protectionOf, removeField, stripMozillaFields} from "../dist/units/tb-mime.mjs";

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
