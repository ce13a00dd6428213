// SPDX-License-Identifier: MIT
// The client library against a fake window: the hello goes to the page's own origin, only a
// "port" answer from the same window and origin connects, requests and replies match by id,
// errors keep their codes, and without an answer connect rejects with ERR_NOT_GRANTED.
import {test} from "node:test";
import assert from "node:assert/strict";
import {MessageChannel} from "node:worker_threads";
import {connect, SmimeWebmailError} from "../dist/units/page-client.mjs";

const ORIGIN = "https://mail.example.test";

/** A window whose posted messages reach its listeners (as in a browser), and a hook that sees
 * each post, standing in for the content script. */
function fakeWindow(onPost) {
  const listeners = new Set();
  const win = {
    location: {origin: ORIGIN},
    crypto: globalThis.crypto,
    posts: [],
    addEventListener: (type, fn) => listeners.add(fn),
    removeEventListener: (type, fn) => listeners.delete(fn),
    dispatch(data, {source = win, origin = ORIGIN, ports = []} = {}) {
      for (const fn of [...listeners]) fn({data, source, origin, ports});
    },
    postMessage(data, targetOrigin, transfer) {
      win.posts.push({data, targetOrigin});
      onPost?.(data, targetOrigin, transfer);
    },
  };
  return win;
}

test("connect: hello to the own origin; a port answer from elsewhere is ignored", async () => {
  const channel = new MessageChannel();
  let answered = false;
  const win = fakeWindow((data, targetOrigin) => {
    assert.equal(targetOrigin, ORIGIN);
    if (data.smime_webmail !== "hello" || answered) return;
    answered = true;
    setTimeout(() => {
      win.dispatch({smime_webmail: "port", version: 1, features: ["status"]}, {origin: "https://evil.test", ports: [channel.port2]});
      win.dispatch({smime_webmail: "port", version: 1, features: ["status"]}, {source: {}, ports: [channel.port2]});
      win.dispatch({smime_webmail: "port", version: 1, features: ["status", "open"]}, {ports: [channel.port2]});
    }, 5);
  });
  const api = await connect({window: win, timeoutMs: 1000});
  assert.deepEqual(api.features, ["status", "open"]);
  assert.equal(api.version, 1);
  assert.deepEqual(win.posts[0].data, {smime_webmail: "hello", version: 1});

  // The other end of the port, as the content script: replies by id, one of them an error.
  channel.port1.onmessage = ({data}) => {
    if (data.op === "status") channel.port1.postMessage({id: data.id, ok: true, result: {enabled: true, locked: false, senders: ["a@example.test"]}});
    if (data.op === "protect") channel.port1.postMessage({id: data.id, ok: false, error: {code: "ERR_NO_IDENTITY", message: "no identity"}});
    if (data.op === "inspect") {
      assert.ok(data.args.message instanceof Uint8Array);
      channel.port1.postMessage({id: data.id, ok: true, result: {level: "signed"}});
    }
  };
  const [status, level] = await Promise.all([api.status(), api.inspect(new Uint8Array([1, 2]))]);
  assert.deepEqual(status, {enabled: true, locked: false, senders: ["a@example.test"]});
  assert.deepEqual(level, {level: "signed"});
  await assert.rejects(api.protect(new Uint8Array([1]), {sign: true, encrypt: false}),
    (e) => e instanceof SmimeWebmailError && e.code === "ERR_NO_IDENTITY");
  api.close();
  channel.port1.close();
});

test("open marks the container with a random name and sends that name", async () => {
  const channel = new MessageChannel();
  const win = fakeWindow((data) => {
    if (data.smime_webmail === "hello") setTimeout(() => win.dispatch({smime_webmail: "port", version: 1, features: []}, {ports: [channel.port2]}), 1);
  });
  const api = await connect({window: win, timeoutMs: 1000});
  const attributes = {};
  const container = {setAttribute: (k, v) => { attributes[k] = v; }, getAttribute: (k) => attributes[k] ?? null};
  channel.port1.onmessage = ({data}) => channel.port1.postMessage({id: data.id, ok: true, result: {frame: data.args.frame}});
  const r = await api.open(new Uint8Array([1]), container);
  assert.match(attributes["data-smime-webmail-frame"], /^[0-9a-f]{24}$/);
  assert.equal(r.frame, attributes["data-smime-webmail-frame"]);
  await assert.rejects(api.open(new Uint8Array([1]), null), (e) => e.code === "ERR_BAD_REQUEST");
  api.close();
  channel.port1.close();
});

test("no extension answers: ERR_NOT_GRANTED after the timeout, hellos repeated meanwhile", async () => {
  const win = fakeWindow();
  const started = Date.now();
  await assert.rejects(connect({window: win, timeoutMs: 500}), (e) => e instanceof SmimeWebmailError && e.code === "ERR_NOT_GRANTED");
  assert.ok(Date.now() - started >= 490);
  assert.ok(win.posts.length >= 2, `hello sent ${win.posts.length} times`);
});

test("a request without an answer times out with ERR_TIMEOUT", async () => {
  const channel = new MessageChannel();
  const win = fakeWindow((data) => {
    if (data.smime_webmail === "hello") setTimeout(() => win.dispatch({smime_webmail: "port", version: 1, features: []}, {ports: [channel.port2]}), 1);
  });
  const api = await connect({window: win, timeoutMs: 1000, requestTimeoutMs: 100});
  await assert.rejects(api.status(), (e) => e.code === "ERR_TIMEOUT");
  api.close();
  channel.port1.close();
});
