// SPDX-License-Identifier: MIT
// The page API's pure parts: the strict type check of requests (page side with bytes, wire side
// with base64), origins, the rate limiter, Bcc removal before signing and the open summary.
import {test} from "node:test";
import assert from "node:assert/strict";
import {checkRequest, exactOrigin, isHello, LIMITS} from "../dist/units/page-protocol.mjs";
import {RateLimiter} from "../dist/units/page-limits.mjs";
import {summarize, withoutBcc} from "../dist/units/page-mime.mjs";

const bytes = new TextEncoder().encode("From: a@example.test\r\n\r\nhi\r\n");
const describe = (raw) => (raw && typeof raw === "object" ? `${raw.op} ${Object.keys(raw.args ?? {}).join(",")}` : String(raw));
const refused = (raw, side = "page") => assert.throws(() => checkRequest(raw, side), (e) => e.code === "ERR_BAD_REQUEST", describe(raw));

test("well-formed requests pass, typed", () => {
  assert.deepEqual(checkRequest({id: 1, op: "status", args: {}}, "page"), {id: 1, op: "status", args: {}});
  assert.equal(checkRequest({id: "a", op: "status"}, "page").op, "status");
  assert.equal(checkRequest({id: 2, op: "recipients", args: {addresses: ["bob@example.test", "Carol <c@example.test>"]}}, "page").op, "recipients");
  assert.equal(checkRequest({id: 3, op: "protect", args: {message: bytes, sign: true, encrypt: false}}, "page").args.message, bytes);
  assert.equal(checkRequest({id: 4, op: "inspect", args: {message: "QUJD"}}, "wire").op, "inspect");
  assert.equal(checkRequest({id: 5, op: "open", args: {message: bytes, frame: "0123456789abcdef"}}, "page").op, "open");
});

test("wrong envelopes are refused", () => {
  for (const raw of [null, 1, "status", [], {op: "status"}, {id: -1, op: "status"}, {id: 1.5, op: "status"},
    {id: "x".repeat(65), op: "status"}, {id: 1, op: "decrypt"}, {id: 1, op: "toString"}, {id: 1, op: "__proto__"},
    {id: 1, op: "status", args: {}, extra: 1}, {id: 1, op: "status", args: []}, {id: 1, op: "status", args: {x: 1}},
    {id: 1, op: "status", args: new Date()}]) refused(raw);
});

test("fields of the wrong type, missing or extra are refused", () => {
  refused({id: 1, op: "protect", args: {message: "text", sign: true, encrypt: true}});
  refused({id: 1, op: "protect", args: {message: Array.from(bytes), sign: true, encrypt: true}});
  refused({id: 1, op: "protect", args: {message: bytes.buffer, sign: true, encrypt: true}});
  refused({id: 1, op: "protect", args: {message: bytes, sign: "yes", encrypt: true}});
  refused({id: 1, op: "protect", args: {message: bytes, sign: true}});
  refused({id: 1, op: "protect", args: {message: bytes, sign: false, encrypt: false}});
  refused({id: 1, op: "protect", args: {message: bytes, sign: true, encrypt: true, recipients: ["x@example.test"]}});
  refused({id: 1, op: "protect", args: {message: new Uint8Array(0), sign: true, encrypt: true}});
  refused({id: 1, op: "protect", args: {message: new Uint8Array(LIMITS.maxMessageBytes + 1), sign: true, encrypt: true}});
  refused({id: 1, op: "inspect", args: {message: bytes}}, "wire");
  refused({id: 1, op: "inspect", args: {message: "QUJ"}}, "wire");
  refused({id: 1, op: "inspect", args: {message: "QU*D"}}, "wire");
  refused({id: 1, op: "recipients", args: {addresses: "bob@example.test"}});
  refused({id: 1, op: "recipients", args: {addresses: [1]}});
  refused({id: 1, op: "recipients", args: {addresses: [""]}});
  refused({id: 1, op: "recipients", args: {addresses: ["a@example.test\r\nBcc: x@example.test"]}});
  refused({id: 1, op: "recipients", args: {addresses: Array.from({length: 101}, (_, i) => `u${i}@example.test`)}});
  refused({id: 1, op: "open", args: {message: bytes, frame: "short"}});
  refused({id: 1, op: "open", args: {message: bytes, frame: "x\"]; a[b=\"0123456789"}});
  refused({id: 1, op: "open", args: {message: bytes}});
});

test("a hello is exactly {smime_webmail: hello, version}", () => {
  assert.ok(isHello({smime_webmail: "hello", version: 1}));
  assert.ok(!isHello({smime_webmail: "hello"}));
  assert.ok(!isHello({smime_webmail: "hello", version: 1, extra: true}));
  assert.ok(!isHello({smime_webmail: "port", version: 1}));
});

test("origins are exact: scheme, host and port", () => {
  assert.equal(exactOrigin("https://Mail.Example.org/inbox?x=1"), "https://mail.example.org");
  assert.equal(exactOrigin("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  assert.equal(exactOrigin("https://mail.example.org:443"), "https://mail.example.org");
  assert.equal(exactOrigin("file:///etc/passwd"), null);
  assert.equal(exactOrigin("https://user:pw@mail.example.org"), null);
  assert.equal(exactOrigin("*.example.org"), null);
});

test("the rate limiter allows a burst, then refuses with the wait, per origin and kind", () => {
  const limiter = new RateLimiter({requests: {burst: 3, perMinute: 60}, addresses: {burst: 10, perMinute: 60}});
  const t0 = 1_000_000;
  assert.equal(limiter.take("https://a.test", "requests", 1, t0), 0);
  assert.equal(limiter.take("https://a.test", "requests", 1, t0), 0);
  assert.equal(limiter.take("https://a.test", "requests", 1, t0), 0);
  assert.equal(limiter.take("https://a.test", "requests", 1, t0), 1000);
  assert.equal(limiter.take("https://b.test", "requests", 1, t0), 0, "another origin has its own bucket");
  assert.equal(limiter.take("https://a.test", "requests", 1, t0 + 1000), 0, "one token per second comes back");
  assert.equal(limiter.take("https://a.test", "addresses", 8, t0), 0);
  assert.equal(limiter.take("https://a.test", "addresses", 5, t0), 3000);
  assert.equal(limiter.take("https://a.test", "addresses", 11, t0), Infinity);
});

test("Bcc fields (with folded lines) leave the header; the body stays byte for byte", () => {
  const text = "From: a@example.test\r\nBcc: x@example.test,\r\n y@example.test\r\nTo: b@example.test\r\nbcc : z@example.test\r\n\r\nBcc: in the body\r\n\u00ff";
  const input = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const out = String.fromCharCode(...withoutBcc(input));
  assert.equal(out, "From: a@example.test\r\nTo: b@example.test\r\n\r\nBcc: in the body\r\n\u00ff");
  const plain = new TextEncoder().encode("From: a@example.test\r\n\r\nbody");
  assert.equal(withoutBcc(plain), plain, "no Bcc: the same bytes");
});

test("the open summary names the worst verdict and its signer only", () => {
  const signer = (cn, email) => ({subject: `CN=${cn},O=Test`, emails: [email], fingerprint: "f", issuer: "", serial: "", not_before: "", not_after: ""});
  const s = summarize({level: "signed+encrypted", layers: [], signatures: [
    {layer: 1, verdict: "good", reasons: [], signer: signer("Bob", "bob@example.test")},
    {layer: 2, verdict: "untrusted", reasons: [], signer: signer("Mallory\\, Esq.", "m@example.test")},
  ]});
  assert.deepEqual(s, {level: "signed+encrypted", verdict: "untrusted", signer: {name: "Mallory, Esq.", email: "m@example.test"}, encrypted: true});
  assert.deepEqual(summarize({level: "encrypted", layers: []}), {level: "encrypted", verdict: null, signer: null, encrypted: true});
  assert.equal(summarize({level: "signed", layers: [], signatures: [{verdict: "good", signer: null}, {verdict: "bad_signature", signer: null}]}).verdict, "bad_signature");
});
