// SPDX-License-Identifier: MIT
// What the reader's banner says for the verification statuses of docs/protocol.md section 8,
// including the fields protocol 2 adds, and what the reader sends to the host for a given file.
import {test} from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {describeStatus} from "../dist/units/verdict.mjs";
import {looksLikeMessage, operationFor, wrapSmimeObject} from "../dist/units/input.mjs";

const en = JSON.parse(readFileSync(new URL("../_locales/en/messages.json", import.meta.url)));
const t = (key, subs = []) => {
  const entry = en[key];
  assert.ok(entry, `missing locale key ${key}`);
  return entry.message.replace(/\$(\d)/g, (_, n) => subs[Number(n) - 1] ?? "");
};

const signer = {emails: ["bob@example.test"], subject: "emailAddress=bob@example.test,CN=bob", issuer: "CN=CA",
  serial: "10", fingerprint_sha256: "ab".repeat(32), not_before: "2026-01-01T00:00:00Z", not_after: "2036-01-01T00:00:00Z"};
const signed = (verdict, reasons = verdict === "good" ? [] : [verdict], extra = {}) => ({
  level: "signed", layers: [{type: "signed", detached: true}],
  signatures: [{layer: 0, verdict, reasons, signer, digest_algorithm: "sha256", ...extra}],
});

test("a good signature reads valid and trusted, in the good tone", () => {
  const b = describeStatus(signed("good"), t);
  assert.equal(b.tone, "good");
  assert.equal(b.headline, "Signed");
  assert.equal(b.signatures[0].signer, "bob <bob@example.test>");
  assert.equal(b.signatures[0].text, "Valid signature, signer trusted");
  assert.ok(b.signatures[0].details.includes("Fingerprint (SHA-256): " + "ab".repeat(32)), "protocol 1 fingerprint_sha256");
});

test("protocol 2's fingerprint is read as well", () => {
  const status = signed("good");
  status.signatures[0].signer = {...signer, fingerprint_sha256: undefined, fingerprint: "cd".repeat(32)};
  assert.ok(describeStatus(status, t).signatures[0].details.includes("Fingerprint (SHA-256): " + "cd".repeat(32)));
});

test("each verdict has its words and tone", () => {
  const cases = {
    untrusted: ["Signer not trusted", "warning"],
    bad_signature: ["Content changed after signing, or the signature cannot be checked", "bad"],
    expired: ["Signer's certificate expired", "warning"],
    address_mismatch: ["Sender address does not match the certificate", "warning"],
    weak_algorithm: ["Weak algorithm: the signature does not protect well", "warning"],
    revoked: ["Signer's certificate revoked", "bad"],
    something_new: ["Signature problem (something_new)", "warning"],
  };
  for (const [verdict, [text, tone]] of Object.entries(cases)) {
    const b = describeStatus(signed(verdict), t);
    assert.equal(b.signatures[0].text, text, verdict);
    assert.equal(b.tone, tone, verdict);
  }
});

test("from_check problems are explained", () => {
  const b = describeStatus(signed("address_mismatch", ["address_mismatch"],
    {from_check: {address: "eve@example.test", problem: "not_in_certificate"}}), t);
  assert.ok(b.signatures[0].details.includes("The sender eve@example.test is not an address of the certificate."));
});

test("encrypted but not authenticated, and header protection, show as notes", () => {
  const b = describeStatus({level: "encrypted", layers: [{type: "enveloped", decrypted: true, content_encryption: "aes-256-cbc", authenticated: false}],
    signatures: [], warnings: [{code: "unauthenticated_encryption", message: "x"}],
    header_protection: {protected: true, differing_fields: ["subject"]}}, t);
  assert.equal(b.headline, "Encrypted");
  assert.equal(b.tone, "warning");
  assert.match(b.notes[0], /^Encrypted but not authenticated/);
  assert.equal(b.notes[1], "These header fields differ from the protected ones: subject");
  assert.deepEqual(b.details, ["1. enveloped, aes-256-cbc, not authenticated"]);
});

test("protocol 1 statuses without the new fields still read", () => {
  const b = describeStatus({level: "signed+encrypted", layers: [{type: "enveloped", decrypted: true}, {type: "signed"}],
    signatures: [{layer: 1, verdict: "good", reasons: [], signer}]}, t);
  assert.equal(b.headline, "Signed and encrypted");
  assert.deepEqual(b.notes, []);
  assert.equal(b.tone, "good");
});

const enc = (s) => new TextEncoder().encode(s);

test("the reader decrypts enveloped data and verifies everything else", () => {
  assert.equal(operationFor(enc('Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n\r\nMIIB')), "message.decrypt");
  assert.equal(operationFor(enc("Content-Type: application/x-pkcs7-mime;\r\n smime-type=authEnveloped-data\r\n\r\n")), "message.decrypt");
  assert.equal(operationFor(enc("Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\n")), "message.verify");
  assert.equal(operationFor(enc('Content-Type: multipart/signed; protocol="application/pkcs7-signature"\r\n\r\n')), "message.verify");
  assert.equal(operationFor(enc("Subject: hi\r\n\r\nbody")), "message.verify");
});

test("a bare smime.p7m is wrapped into a message; an .eml is taken as it is", () => {
  assert.equal(looksLikeMessage(enc("From: a@example.test\r\nSubject: x\r\n\r\nbody")), true);
  assert.equal(looksLikeMessage(new Uint8Array([0x30, 0x82, 0x01, 0x00])), false);
  assert.equal(looksLikeMessage(enc("MIIBxjCCAUOg\r\n")), false);
  const wrapped = new TextDecoder().decode(wrapSmimeObject(new Uint8Array([0x30, 0x82, 0x01, 0x00])));
  assert.match(wrapped, /^MIME-Version: 1.0\r\nContent-Type: application\/pkcs7-mime/);
  assert.ok(wrapped.endsWith("\r\n\r\nMIIBAA==\r\n"));
  assert.equal(operationFor(enc(wrapped)), "message.decrypt");
});
