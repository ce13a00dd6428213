// SPDX-License-Identifier: MIT
// The host client against a fake port: ids, chunking both ways (docs/protocol.md section 4),
// errors, timeouts, "host not installed" and reconnect after the host exits.
import {test} from "node:test";
import assert from "node:assert/strict";
import {HostClient} from "../dist/units/client.mjs";
import {describeError} from "../dist/units/errors.mjs";
import {fromBase64, toBase64} from "../dist/units/base64.mjs";
import {fakeConnector} from "./fake-port.mjs";

const isHostMissing = (r) => /native messaging host not found|No such native application|forbidden/i.test(r ?? "");

function client(options = {}) {
  const c = fakeConnector();
  return {c, host: new HostClient({connect: c.connect, disconnectReason: c.disconnectReason, isHostMissing, ...options})};
}

test("replies are matched by id, whatever their order", async () => {
  const {c, host} = client();
  const a = host.request("hello");
  const b = host.request("keystore.status");
  const [first, second] = c.ports[0].sent;
  assert.notEqual(first.id, second.id);
  assert.equal(first.op, "hello");
  c.ports[0].deliver({id: second.id, ok: true, result: {unlocked: false}});
  c.ports[0].deliver({id: first.id, ok: true, result: {name: "smime-host"}});
  assert.deepEqual(await a, {name: "smime-host"});
  assert.deepEqual(await b, {unlocked: false});
  assert.equal(c.ports.length, 1, "one port for every request");
});

test("a large payload is sent as a chunk reference and chunk frames that decode on their own", async () => {
  const {c, host} = client({chunkChars: 8});
  const bytes = new Uint8Array(20).map((_, i) => i * 13);
  const text = toBase64(bytes);  // 28 characters: chunks of 8, 8, 8, 4
  const reply = host.request("echo", {data: text, text: "x"}, {payloads: ["data"]});
  const frames = c.ports[0].sent;
  assert.deepEqual(frames[0].args, {data: {chunks: 4, size: 20}, text: "x"});
  assert.deepEqual(frames.slice(1).map((f) => f.chunk), [0, 1, 2, 3]);
  for (const f of frames.slice(1)) {
    assert.deepEqual(Object.keys(f).sort(), ["chunk", "data", "id"]);
    assert.equal(f.id, frames[0].id);
    fromBase64(f.data);  // each chunk is complete base64
  }
  const joined = Buffer.concat(frames.slice(1).map((f) => Buffer.from(f.data, "base64")));
  assert.deepEqual(new Uint8Array(joined), bytes);
  c.ports[0].deliver({id: frames[0].id, ok: true, result: {size: 20}});
  assert.deepEqual(await reply, {size: 20});
});

test("a small payload stays inline", async () => {
  const {c, host} = client({chunkChars: 8});
  const reply = host.request("echo", {data: "AAECAw=="}, {payloads: ["data"]});
  assert.equal(c.ports[0].sent.length, 1);
  assert.equal(c.ports[0].sent[0].args.data, "AAECAw==");
  c.ports[0].deliver({id: c.ports[0].sent[0].id, ok: true, result: {size: 4, data: "AAECAw=="}});
  assert.equal((await reply).data, "AAECAw==");
});

test("a chunked reply is reassembled and checked against its size", async () => {
  const {c, host} = client();
  const reply = host.request("message.verify", {mime: "AAAA"}, {payloads: ["mime"]});
  const id = c.ports[0].sent[0].id;
  const bytes = new Uint8Array(10).map((_, i) => 200 + i);
  c.ports[0].deliver({id, ok: true, result: {mime: {chunks: 2, size: 10}, status: {level: "signed"}}});
  c.ports[0].deliver({id, chunk: 0, data: toBase64(bytes.subarray(0, 6))});
  c.ports[0].deliver({id, chunk: 1, data: toBase64(bytes.subarray(6))});
  const result = await reply;
  assert.deepEqual(result.status, {level: "signed"});
  assert.deepEqual(fromBase64(result.mime), bytes);
});

test("chunks padded in the middle are still joined correctly", async () => {
  const {c, host} = client();
  const reply = host.request("echo", {});
  const id = c.ports[0].sent[0].id;
  c.ports[0].deliver({id, ok: true, result: {data: {chunks: 2, size: 5}}});
  c.ports[0].deliver({id, chunk: 0, data: toBase64(new Uint8Array([1, 2]))});
  c.ports[0].deliver({id, chunk: 1, data: toBase64(new Uint8Array([3, 4, 5]))});
  assert.deepEqual(fromBase64((await reply).data), new Uint8Array([1, 2, 3, 4, 5]));
});

test("a reassembled reply of the wrong size is refused", async () => {
  const {c, host} = client();
  const reply = host.request("echo", {});
  const id = c.ports[0].sent[0].id;
  c.ports[0].deliver({id, ok: true, result: {data: {chunks: 1, size: 9}}});
  c.ports[0].deliver({id, chunk: 0, data: "AAAA"});
  await assert.rejects(reply, (e) => e.name === "HostError" && e.code === "ERR_BAD_FRAME");
});

test("host errors become HostError with the host's code and details", async () => {
  const {c, host} = client();
  const reply = host.request("message.encrypt", {});
  c.ports[0].deliver({id: c.ports[0].sent[0].id, ok: false,
    error: {code: "ERR_NO_CERTIFICATE", message: "no certificate", details: {addresses: ["bob@example.test"]}}});
  await assert.rejects(reply, (e) => e.code === "ERR_NO_CERTIFICATE" && e.details.addresses[0] === "bob@example.test");
});

test("a request without a reply times out and a late reply is ignored", async () => {
  const {c, host} = client({timeoutMs: 30});
  const reply = host.request("keystore.unlock", {passphrase: "x"});
  await assert.rejects(reply, (e) => e.code === "ERR_TIMEOUT");
  c.ports[0].deliver({id: c.ports[0].sent[0].id, ok: true, result: {}});
  const next = host.request("hello");
  c.ports[0].deliver({id: c.ports[0].sent[1].id, ok: true, result: {name: "smime-host"}});
  assert.equal((await next).name, "smime-host");
});

test("a missing host gives ERR_HOST_NOT_INSTALLED and the state says so", async () => {
  for (const reason of ["Specified native messaging host not found.", "No such native application org.smimehost.native"]) {
    const {c, host} = client();
    const states = [];
    host.onStateChange((s) => states.push(s));
    const reply = host.request("hello");
    c.ports[0].hostExits(reason);
    await assert.rejects(reply, (e) => e.code === "ERR_HOST_NOT_INSTALLED");
    assert.equal(host.state, "not_installed");
    assert.deepEqual(states, ["connected", "not_installed"]);
  }
});

test("after the host exits, pending requests fail and the next request reconnects", async () => {
  const {c, host} = client();
  const reply = host.request("message.decrypt", {mime: "AAAA"}, {payloads: ["mime"]});
  c.ports[0].hostExits("Native host has exited.");
  await assert.rejects(reply, (e) => e.code === "ERR_HOST_EXITED");
  assert.equal(host.state, "exited");
  const again = host.request("hello");
  assert.equal(c.ports.length, 2, "a new port");
  c.ports[1].deliver({id: c.ports[1].sent[0].id, ok: true, result: {name: "smime-host"}});
  assert.equal((await again).name, "smime-host");
  assert.equal(host.state, "connected");
});

test("a connect that throws is reported as a missing host", async () => {
  const host = new HostClient({connect: () => { throw new Error("Specified native messaging host not found."); },
    disconnectReason: () => undefined, isHostMissing});
  await assert.rejects(host.request("hello"), (e) => e.code === "ERR_HOST_NOT_INSTALLED");
});

test("unknown codes get the generic sentence with the code; known ones their own words", () => {
  const t = (key, subs = []) => `${key}[${subs.join(",")}]`;
  assert.equal(describeError({code: "ERR_SOMETHING_NEW"}, t), "error_unknown[ERR_SOMETHING_NEW]");
  assert.equal(describeError({code: "ERR_BAD_PASSPHRASE"}, t), "error_ERR_BAD_PASSPHRASE[]");
  assert.equal(describeError({code: "ERR_THROTTLED", details: {retry_after_ms: 2500}}, t),
    "error_ERR_THROTTLED[] error_retry_after[3]");
});
