// SPDX-License-Identifier: MIT
// The host client against the real smime-host, framed as the browsers frame it: hello, a payload
// chunked both ways, the host's error codes, reconnect after the host exits, a missing host.
import {test} from "node:test";
import assert from "node:assert/strict";
import {mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {HostClient} from "../dist/units/client.mjs";
import {fromBase64, toBase64} from "../dist/units/base64.mjs";
import {FramedHostPort, hostBinary} from "./framed-host.mjs";

const isHostMissing = (r) => /native messaging host not found/i.test(r ?? "");

function connectTo(binary) {
  const home = mkdtempSync(join(tmpdir(), "smime-ext-host-"));
  const ports = [];
  const client = new HostClient({
    connect: () => {
      const port = new FramedHostPort(binary, {SMIME_HOST_HOME: home});
      ports.push(port);
      return port;
    },
    disconnectReason: (port) => port.error?.message,
    isHostMissing,
  });
  const done = async () => {
    client.close();
    await Promise.all(ports.map((p) => p.exited));
    rmSync(home, {recursive: true, force: true});
  };
  return {client, ports, done};
}

test("hello through the framed port", async () => {
  const {client, done} = connectTo(hostBinary());
  try {
    const hello = await client.request("hello");
    assert.equal(hello.name, "smime-host");
    assert.equal(hello.caller.kind, "chromium");
    assert.ok(hello.operations.includes("message.decrypt"));
  } finally {
    await done();
  }
});

test("2,000,000 bytes go to the host in chunks and come back in chunks, unaltered", async () => {
  const {client, ports, done} = connectTo(hostBinary());
  try {
    const bytes = new Uint8Array(2_000_000).map((_, i) => (i * 31 + (i >> 9)) & 255);
    const result = await client.request("echo", {data: toBase64(bytes)}, {payloads: ["data"]});
    assert.equal(result.size, 2_000_000);
    assert.deepEqual(fromBase64(result.data), bytes);
    assert.equal(ports[0].stats.oversized, 0, "no frame over 1 MiB from the host");
    assert.ok(ports[0].stats.frames >= 4, `the reply came in chunks (${ports[0].stats.frames} frames)`);
  } finally {
    await done();
  }
});

test("the host's error codes arrive as typed errors", async () => {
  const {client, done} = connectTo(hostBinary());
  try {
    await assert.rejects(client.request("identities.import", {pkcs12: toBase64(new TextEncoder().encode("not pkcs12")), password: ""},
      {payloads: ["pkcs12"]}), (e) => e.code === "ERR_BAD_PKCS12");
    await assert.rejects(client.request("no.such.op"), (e) => e.code === "ERR_UNKNOWN_OP");
    await assert.rejects(client.request("identities.activate", {fingerprint: "00".repeat(32)}), (e) => e.code === "ERR_NOT_FOUND");
  } finally {
    await done();
  }
});

test("when the host exits, the client starts a new one on the next request", async () => {
  const {client, ports, done} = connectTo(hostBinary());
  try {
    await client.request("hello");
    ports[0].child.kill("SIGKILL");
    await ports[0].exited;
    assert.equal(client.state, "exited");
    const hello = await client.request("hello");
    assert.equal(hello.name, "smime-host");
    assert.equal(ports.length, 2);
  } finally {
    await done();
  }
});

test("a host that is not installed gives ERR_HOST_NOT_INSTALLED", async () => {
  const {client, done} = connectTo("/nonexistent/smime-host");
  try {
    await assert.rejects(client.request("hello"), (e) => e.code === "ERR_HOST_NOT_INSTALLED");
    assert.equal(client.state, "not_installed");
  } finally {
    await done();
  }
});
