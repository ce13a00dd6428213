// SPDX-License-Identifier: MIT
// What the page API browser tests share: the test webmail served on 127.0.0.1 under several
// ports (one origin each: granted by the user, never granted, pre-granted and forbidden by
// managed policy), a key store prepared with the host's command line (alice's identity, bob and
// mallory as correspondents, the test root trusted), test messages, and checks of what protect
// returns with openssl cms.
import {execFileSync} from "node:child_process";
import {inflateSync} from "node:zlib";
import {readFileSync, writeFileSync} from "node:fs";
import {createServer} from "node:http";
import {join} from "node:path";
import {hostBinary} from "../framed-host.mjs";
import {makeFixtures, P12_PASSWORD, REPO, startRemoteServer} from "./fixtures.mjs";

const LIBRARY = join(REPO, "extension/dist/page-api/smime-webmail.js");
const PAGE_SCRIPT = join(REPO, "extension/tests/browser/webmail-page.js");
export const SECRET = "The launch code is 4711-SECRET";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Test webmail</title>
<script src="/smime-webmail.js"></script><script src="/webmail-page.js"></script>
<style>body{font-family:sans-serif;margin:8px} #viewer{width:1000px;height:640px;border:2px solid #888}</style>
</head><body><h1>Test webmail</h1><div id="viewer"></div></body></html>`;

/** What both page API tests start with in `work`: the test data and the remote server, the
 * prepared key store, the test messages, and the test webmail under four origins. */
export async function setUpPageApi(work) {
  const dataDir = join(work, "data");
  const {server: remote, remoteBase} = await startRemoteServer();
  const data = makeFixtures(dataDir, remoteBase);
  prepareStore(join(work, "store"), dataDir);
  const messages = pageMessages(dataDir);
  const notForMe = readFileSync(data.files.notForMe).toString("latin1");
  const webmail = await startWebmail(4);
  return {dataDir, remote, messages, notForMe, webmail};
}

/** One server per origin; every one serves the same webmail. */
export async function startWebmail(count) {
  const servers = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((req, res) => {
      const path = new URL(req.url, "http://x").pathname;
      if (path === "/smime-webmail.js" || path === "/webmail-page.js") {
        res.writeHead(200, {"content-type": "text/javascript"});
        res.end(readFileSync(path === "/smime-webmail.js" ? LIBRARY : PAGE_SCRIPT));
      } else {
        res.writeHead(200, {"content-type": "text/html; charset=utf-8"});
        res.end(PAGE);
      }
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
  }
  return {origins: servers.map((s) => `http://127.0.0.1:${s.address().port}`), close: () => servers.forEach((s) => s.close())};
}

function openssl(args, input) {
  return execFileSync("openssl", args, {input, env: {...process.env, OPENSSL_CONF: "/dev/null"}, maxBuffer: 1 << 28, stdio: ["pipe", "pipe", "pipe"]});
}

/** Fills the key store at `store` with the host's command line, as a user would. */
export function prepareStore(store, dataDir) {
  const pki = join(dataDir, "pki");
  const env = {...process.env, SMIME_HOST_HOME: store, P12: P12_PASSWORD};
  const host = (...args) => execFileSync(hostBinary(), args, {env, stdio: ["ignore", "pipe", "pipe"]});
  host("identities.import", "--in", join(pki, "alice.p12"), "--password-env", "P12");
  host("certificates.import", "--certificate", "@" + join(pki, "root.pem"), "--trust-anchor");
  host("certificates.import", "--certificate", "@" + join(pki, "bob.pem"));
  host("certificates.import", "--certificate", "@" + join(pki, "mallory.pem"));
}

const crlf = (s) => s.replace(/\r?\n/g, "\r\n");

/** Messages for the page: one to compose (To bob, Bcc mallory) and one signed by bob and
 * encrypted to alice whose text is SECRET. */
export function pageMessages(dataDir) {
  const pki = join(dataDir, "pki");
  const compose = crlf(`From: Alice <alice@example.test>
To: Bob <bob@example.test>
Bcc: mallory@example.test
Subject: Quarterly figures
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <compose-1@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Figures attached in spirit.
`);
  const inner = crlf(`Content-Type: text/plain; charset=utf-8\n\n${SECRET}\nBob\n`);
  writeFileSync(join(dataDir, "inner.txt"), inner);
  const signed = openssl(["cms", "-sign", "-in", join(dataDir, "inner.txt"), "-signer", join(pki, "bob.pem"), "-inkey", join(pki, "bob.key"),
    "-certfile", join(pki, "intermediate.pem"), "-md", "sha256", "-crlfeol"]);
  writeFileSync(join(dataDir, "signed.txt"), signed);
  const encrypted = openssl(["cms", "-encrypt", "-aes256", "-in", join(dataDir, "signed.txt"), "-crlfeol", join(pki, "alice.pem")]);
  const secretMail = crlf("From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: For your eyes only\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <secret-1@example.test>\n") +
    encrypted.toString("latin1");
  return {compose, secretMail};
}

/** Decrypts `message` (latin1 text) with `who`'s key; returns the plaintext or null. */
export function decryptWith(dataDir, who, message) {
  const pki = join(dataDir, "pki");
  try {
    return openssl(["cms", "-decrypt", "-recip", join(pki, `${who}.pem`), "-inkey", join(pki, `${who}.key`)], Buffer.from(message, "latin1")).toString("latin1");
  } catch {
    return null;
  }
}

/** Verifies a signed message (latin1 text) against the test root; true when openssl accepts it. */
export function verifies(dataDir, message) {
  const pki = join(dataDir, "pki");
  try {
    openssl(["cms", "-verify", "-CAfile", join(pki, "root.pem"), "-certfile", join(pki, "intermediate.pem"), "-purpose", "any"], Buffer.from(message, "latin1"));
    return true;
  } catch {
    return false;
  }
}

/** The header of a message (latin1 text), up to the empty line. */
export const headerOf = (message) => message.slice(0, message.search(/\r?\n\r?\n/));

/** The checks both browsers run on the granted origin, given `run(scenario, args)` in the page. */
export async function grantedScenarios(run, dataDir, messages, check) {
  const c = await run("connect");
  check(c.version === 1 && ["status", "recipients", "protect", "inspect", "open"].every((f) => c.features?.includes(f)),
    `granted origin connects: version ${c.version}, features ${c.features} ${JSON.stringify(c.error ?? "")}`);
  const status = await run("status");
  check(status.enabled === true && status.locked === false && JSON.stringify(status.senders) === '["alice@example.test"]' &&
    Object.keys(status).sort().join() === "enabled,locked,senders", `status: ${JSON.stringify(status)}`);
  const rec = await run("recipients", {addresses: ["bob@example.test", "Nobody <nobody@example.test>"]});
  check(JSON.stringify(rec) === JSON.stringify({recipients: [{address: "bob@example.test", can_encrypt: true}, {address: "Nobody <nobody@example.test>", can_encrypt: false}]}),
    `recipients: minimal answers, addresses as asked ${JSON.stringify(rec)}`);
  const bad = await run("raw", {request: {op: "protect", args: {message: "From: x\r\n\r\n", sign: true, encrypt: false}}});
  check(bad.ok === false && bad.error.code === "ERR_BAD_REQUEST", `a text message instead of bytes: ${JSON.stringify(bad.error)}`);
  const extra = await run("raw", {request: {op: "status", args: {verbose: true}}});
  check(extra.ok === false && extra.error.code === "ERR_BAD_REQUEST", `an unknown field: ${JSON.stringify(extra.error)}`);

  // Sign only: Bcc removed, openssl verifies it.
  const signed = await run("protect", {message: messages.compose, sign: true, encrypt: false});
  check(!signed.error && /multipart\/signed|application\/(x-)?pkcs7-mime/i.test(headerOf(signed.message)) && !/^bcc:/im.test(headerOf(signed.message)) &&
    signed.bcc.length === 0, `protect sign: signed, no Bcc field, no copies ${JSON.stringify(signed.error ?? "")}`);
  check(!signed.error && verifies(dataDir, signed.message), "protect sign: openssl cms verifies the signature");
  const level = await run("inspect", {message: signed.message});
  check(level.level === "signed", `inspect of the signed message: ${JSON.stringify(level)}`);

  // Sign and encrypt: To and the sender can read the main copy, the Bcc recipient only its own.
  const enc = await run("protect", {message: messages.compose, sign: true, encrypt: true});
  check(!enc.error && enc.bcc.length === 1 && enc.bcc[0].address === "mallory@example.test", `protect encrypt: one Bcc copy ${JSON.stringify(enc.error ?? enc.bcc.map((b) => b.address))}`);
  if (!enc.error) {
    const forBob = decryptWith(dataDir, "bob", enc.message);
    check(forBob !== null && decryptWith(dataDir, "alice", enc.message) !== null, "the main copy decrypts for bob (To) and alice (sender)");
    check(decryptWith(dataDir, "mallory", enc.message) === null, "the Bcc recipient cannot decrypt the main copy");
    check(!/mallory/i.test(enc.message) && !/mallory/i.test(forBob ?? ""), "the main copy does not name the Bcc recipient");
    check(decryptWith(dataDir, "mallory", enc.bcc[0].message) !== null && decryptWith(dataDir, "bob", enc.bcc[0].message) === null,
      "the Bcc copy decrypts for mallory only (and the sender)");
    check((await run("inspect", {message: enc.message})).level === "encrypted", "inspect of the encrypted message: encrypted");
  }
  const nocert = await run("protect", {message: messages.compose.replace("bob@example.test", "nobody@example.test"), sign: false, encrypt: true});
  check(nocert.error?.code === "ERR_NO_CERTIFICATE", `a recipient without a certificate: the host's code ${nocert.error?.code}`);
  // 400 addresses asked for at once against a bucket of 200 that refills 5 a second: whatever the
  // time between the requests (under 20 s), the first goes through and at most two of the four do.
  const throttled = [];
  for (let i = 0; i < 4; i++) throttled.push(await run("recipients", {addresses: Array.from({length: 100}, (_, k) => `user${i}-${k}@example.test`)}));
  const codes = throttled.map((r) => r.error?.code ?? "ok");
  check(codes[0] === "ok" && codes.filter((c) => c === "ok").length <= 2 && codes.every((c) => c === "ok" || c === "ERR_THROTTLED"),
    `recipients is rate-limited per origin: ${codes}`);
}

/** The RGB of one pixel of a PNG screenshot (8-bit RGB or RGBA, not interlaced), decoded here so
 * a test can check what a screenshot shows without a browser's help. */
export function pngPixel(png, x, y) {
  const width = png.readUInt32BE(16);
  const channels = {2: 3, 6: 4}[png[25]];
  if (png[24] !== 8 || !channels || png[28] !== 0) throw new Error("unsupported PNG");
  const idat = [];
  for (let o = 8; o < png.length;) {
    const length = png.readUInt32BE(o);
    if (png.toString("latin1", o + 4, o + 8) === "IDAT") idat.push(png.subarray(o + 8, o + 8 + length));
    o += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  let previous = Buffer.alloc(stride);
  let row;
  for (let r = 0; r <= y; r++) {
    const filter = raw[r * (stride + 1)];
    const line = raw.subarray(r * (stride + 1) + 1, (r + 1) * (stride + 1));
    row = Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = previous[i];
      const c = i >= channels ? previous[i - channels] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      row[i] = (line[i] + [0, a, b, (a + b) >> 1, paeth][filter]) & 255;
    }
    previous = row;
  }
  return Array.from(row.subarray(x * channels, x * channels + 3));
}
