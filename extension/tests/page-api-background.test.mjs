// SPDX-License-Identifier: MIT
// The page API's request handling against a scripted host: the budget of decryption failures that
// keeps `open` from being a padding oracle, opaque origins refused, Bcc copies capped and counted.
import {test} from "node:test";
import assert from "node:assert/strict";
import {HostError} from "../dist/units/errors.mjs";

const ORIGIN = "https://mail.example.test";
globalThis.__TARGET__ = "chromium";  // the build constant the platform module reads
globalThis.chrome = {
  runtime: {id: "ext"},
  storage: {
    local: {get: async () => ({page_api_grants: [ORIGIN, "https://other.example.test"]}), set: async () => {}},
    managed: {get: async () => ({})},
  },
};
// Results for the viewer expire on a timer a minute long. The timers are kept here instead, so a
// test can fire them, and the file does not wait a minute at its end for the ones left.
const timers = [];
globalThis.setTimeout = (callback, ms) => timers.push({callback, ms});
const {PageApi, MAX_BCC_COPIES} = await import("../dist/units/page-background.mjs");

const b64 = (text) => Buffer.from(text, "latin1").toString("base64");
const ENCRYPTED = b64("MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n" +
  "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n");
const SIGNED = b64("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
const sender = (origin = ORIGIN) => ({id: "ext", tab: {id: 1}, frameId: 0, origin, url: origin + "/inbox"});
const open = (api, message, origin) => api.handle({page_api: "request", op: "open", args: {message, frame: "0123456789abcdef"}}, sender(origin));

/** A host whose answers to each operation are scripted; it counts the calls. */
function host(answer) {
  const calls = [];
  return {calls, request: async (op, args) => {
    calls.push(op);
    return answer(op, args);
  }};
}
const failing = () => host(() => { throw new HostError("ERR_DECRYPT_FAILED", "cannot decrypt"); });
const opened = {mime: b64("Content-Type: text/plain\r\n\r\nplain\r\n"), status: {level: "encrypted", layers: []}};

test("after 3 failed decryptions an origin's open of encrypted input is refused without asking the host", async () => {
  const h = failing();
  const api = new PageApi(h);
  for (let i = 0; i < 3; i++) {
    const r = await open(api, ENCRYPTED);
    assert.equal(r.ok, true);
    assert.equal(r.result.error.code, "ERR_DECRYPT_FAILED");
  }
  for (let i = 0; i < 5; i++) {
    const r = await open(api, ENCRYPTED);
    assert.equal(r.result.error.code, "ERR_THROTTLED");
  }
  assert.equal(h.calls.length, 3, "the host saw only the first three");
  const viewer = api.take((await open(api, ENCRYPTED)).result.token);
  assert.equal(viewer.error.code, "ERR_THROTTLED");
  assert.equal(viewer.error.details.reason, "decrypt_failures", "the viewer can say why in words");
  const other = await open(api, ENCRYPTED, "https://other.example.test");
  assert.equal(other.result.error.code, "ERR_DECRYPT_FAILED", "the budget is per origin");
  api.regranted(ORIGIN + "/");
  assert.equal((await open(api, ENCRYPTED)).result.error.code, "ERR_DECRYPT_FAILED", "a new grant gives it back");
});

test("requests sent at the same time cannot pass the budget", async () => {
  const h = failing();
  const api = new PageApi(h);
  const replies = await Promise.all(Array.from({length: 10}, () => open(api, ENCRYPTED)));
  assert.equal(h.calls.length, 3);
  assert.equal(replies.filter((r) => r.result.error.code === "ERR_THROTTLED").length, 7);
});

test("successes and signed-only input use no budget; a locked store does not either", async () => {
  let locked = true;
  const h = host((op) => {
    if (op === "message.verify") throw new HostError("ERR_BAD_MESSAGE", "bad");
    if (locked) throw new HostError("ERR_LOCKED", "locked");
    return opened;
  });
  const api = new PageApi(h);
  for (let i = 0; i < 5; i++) assert.equal((await open(api, ENCRYPTED)).result.error.code, "ERR_LOCKED");
  locked = false;
  for (let i = 0; i < 5; i++) assert.equal((await open(api, ENCRYPTED)).result.summary.level, "encrypted");
  for (let i = 0; i < 5; i++) assert.equal((await open(api, SIGNED)).result.error.code, "ERR_BAD_MESSAGE");
});

test("an opaque origin is refused even when its URL is granted", async () => {
  const h = host(() => opened);
  const api = new PageApi(h);
  const r = await api.handle({page_api: "hello"}, {...sender(), origin: "null"});
  assert.equal(r.error.code, "ERR_NOT_GRANTED");
  const r2 = await api.handle({page_api: "hello"}, {...sender(), origin: undefined});
  assert.equal(r2.error.code, "ERR_NOT_GRANTED");
  assert.equal((await api.handle({page_api: "hello"}, sender())).ok, true);
});

test("protect makes at most MAX_BCC_COPIES Bcc copies and each one counts against the rate limit", async () => {
  const many = Array.from({length: MAX_BCC_COPIES + 1}, (_, i) => `b${i}@example.test`);
  let bcc = many;
  const h = host(() => ({mime: b64("x"), bcc}));
  const api = new PageApi(h);
  const protect = () => api.handle({page_api: "request", op: "protect", args: {message: SIGNED, sign: false, encrypt: true}}, sender());
  let r = await protect();
  assert.equal(r.error.code, "ERR_BAD_REQUEST");
  assert.equal(h.calls.length, 1, "no copy was made");
  bcc = many.slice(0, 50);
  r = await protect();
  assert.equal(r.ok, true);
  assert.equal(r.result.bcc.length, 50);
  // The burst is 60 requests: two protects took 2 + 50, so 8 copies are left.
  r = await protect();
  assert.equal(r.error.code, "ERR_THROTTLED");
});

test("a result the viewer does not take is gone after a minute; a taken one is gone at once", async () => {
  const api = new PageApi(host(() => opened));
  timers.length = 0;
  const first = (await open(api, ENCRYPTED)).result.token;
  const second = (await open(api, ENCRYPTED)).result.token;
  assert.deepEqual(timers.map((t) => t.ms), [60_000, 60_000], "one expiry a result, a minute each");
  assert.equal(api.take(first).status.level, "encrypted");
  assert.throws(() => api.take(first), (e) => e.code === "ERR_NOT_FOUND", "taken once only");
  timers[1].callback();
  assert.throws(() => api.take(second), (e) => e.code === "ERR_NOT_FOUND", "expired");
});
