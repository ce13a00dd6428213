// SPDX-License-Identifier: MIT
// Test extension: calls the installed host as the real extension will (hello, then a chunked echo
// over a port) and hands what it saw to the test's reporter host, which writes it to a file.
const api = globalThis.browser ?? globalThis.chrome;
const HOST = "org.smimehost.native";
const REPORTER = "org.smimehost.test_report";
const CHUNK = 768000;  // raw bytes per chunk, as docs/protocol.md recommends

function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function unbase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// Sends 1,000,000 bytes in two chunks through a port; the reply comes back in chunks too.
function echoThroughPort() {
  return new Promise((resolve, reject) => {
    const size = 1000000;
    const sent = new Uint8Array(size);
    for (let i = 0; i < size; i++) sent[i] = (i * 7 + (i >> 11)) & 255;
    const chunks = Math.ceil(size / CHUNK);
    const port = api.runtime.connectNative(HOST);
    const timer = setTimeout(() => reject(new Error("echo: no reply within 20 s")), 20000);
    let reference = null;
    const parts = [];
    port.onDisconnect.addListener(() => {
      clearTimeout(timer);
      reject(new Error("echo: port closed: " + (api.runtime.lastError?.message ?? "no reason given")));
    });
    port.onMessage.addListener((message) => {
      if (!("chunk" in message)) {
        if (!message.ok) return reject(new Error("echo: " + JSON.stringify(message.error)));
        reference = message.result.data;
        return;
      }
      parts.push(unbase64(message.data));
      if (reference && parts.length === reference.chunks) {
        clearTimeout(timer);
        const received = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let offset = 0;
        for (const p of parts) { received.set(p, offset); offset += p.length; }
        const same = received.length === sent.length && received.every((b, i) => b === sent[i]);
        port.disconnect();
        resolve({size: received.length, request_chunks: chunks, reply_chunks: parts.length, same});
      }
    });
    port.postMessage({id: "echo-1", op: "echo", args: {data: {chunks, size}}});
    for (let i = 0; i < chunks; i++) {
      port.postMessage({id: "echo-1", chunk: i, data: base64(sent.subarray(i * CHUNK, (i + 1) * CHUNK))});
    }
  });
}

async function probe() {
  const report = {user_agent: navigator.userAgent};
  try {
    report.hello = await api.runtime.sendNativeMessage(HOST, {id: 1, op: "hello"});
  } catch (e) {
    report.hello_error = String(e?.message ?? e);
  }
  try {
    report.echo = await echoThroughPort();
  } catch (e) {
    report.echo_error = String(e?.message ?? e);
  }
  await api.runtime.sendNativeMessage(REPORTER, report);
}

probe();
