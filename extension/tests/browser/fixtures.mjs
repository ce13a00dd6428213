// SPDX-License-Identifier: MIT
// Test data for the browser tests, made fresh each run: the engine tests' PKI
// (tests/engine/make-test-pki.sh), a password-protected PKCS#12 for "me" (alice), and messages
// signed and encrypted with openssl cms: good, tampered, untrusted, expired, wrong sender,
// encrypted to me (HTML with a script and a remote image, an attachment), encrypted to someone
// else, a bare smime.p7m, and the 50 KB signed and 10 MB encrypted messages for timing.
import {execFileSync} from "node:child_process";
import {randomBytes} from "node:crypto";
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {createServer} from "node:http";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {hostBinary} from "../framed-host.mjs";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const P12_PASSWORD = "Alice-p12-password";
export const ids = JSON.parse(readFileSync(join(REPO, "extension/ids.json"), "utf8"));
export const ARTIFACTS = process.env.SMIME_EXTENSION_ARTIFACTS ?? join(REPO, "build/extension-artifacts");

/** Prints each check as PASS or FAIL and counts the failures. */
export function checker() {
  let failures = 0;
  const check = (ok, what) => {
    console.log(`${ok ? "PASS" : "FAIL"}: ${what}`);
    if (!ok) failures++;
    return ok;
  };
  return {check, failures: () => failures};
}

function openssl(args, input) {
  return execFileSync("openssl", args, {input, env: {...process.env, OPENSSL_CONF: "/dev/null"}, maxBuffer: 1 << 30});
}

const crlf = (s) => s.replace(/\r?\n/g, "\r\n");

function envelope(from, to, subject) {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${randomBytes(6).toString("hex")}@example.test>\r\n`;
}

export function makeFixtures(dir, remoteBase) {
  const pki = join(dir, "pki");
  execFileSync("sh", [join(REPO, "tests/engine/make-test-pki.sh"), pki], {stdio: "ignore"});
  const p = (name) => join(pki, name);
  openssl(["pkcs12", "-export", "-inkey", p("alice.key"), "-in", p("alice.pem"), "-certfile", p("intermediate.pem"),
    "-passout", `pass:${P12_PASSWORD}`, "-out", p("alice.p12"), "-name", "alice"]);
  openssl(["pkcs12", "-export", "-inkey", p("carol.key"), "-in", p("carol.pem"), "-passout", "pass:", "-out", p("carol.p12")]);
  const tmp = join(dir, "tmp");
  mkdirSync(tmp, {recursive: true});

  const sign = (inner, who, chain = p("intermediate.pem")) => {
    writeFileSync(join(tmp, "inner"), inner);
    return openssl(["cms", "-sign", "-in", join(tmp, "inner"), "-signer", p(`${who}.pem`), "-inkey", p(`${who}.key`),
      "-certfile", chain, "-md", "sha256", "-crlfeol"]).toString("latin1");
  };
  const encrypt = (inner, recipient, outform = "SMIME") => {
    writeFileSync(join(tmp, "inner"), inner);
    return openssl(["cms", "-encrypt", "-aes256", "-in", join(tmp, "inner"), "-outform", outform, "-crlfeol", p(`${recipient}.pem`)]);
  };
  const text = (body) => crlf(`Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${body}\n`);

  const m = {};
  const good = sign(text("Hello Alice,\nthe minutes are attached in spirit.\nBob"), "bob");
  m.signed = envelope("Bob <bob@example.test>", "alice@example.test", "Signed by Bob") + good;
  m.tampered = m.signed.replace("the minutes are attached", "the money is transferred");
  m.untrusted = envelope("mallory@example.test", "alice@example.test", "From an unknown root") +
    sign(text("Trust me."), "mallory", p("other-root.pem"));
  m.expired = envelope("carol@example.test", "alice@example.test", "Old certificate") + sign(text("Long ago."), "carol");
  m.mismatch = envelope("Alice <alice@example.test>", "alice@example.test", "Bob pretending") + sign(text("It is me, Alice."), "bob");

  const boundary = "b-" + randomBytes(4).toString("hex");
  const html = `<html><body><h1 id="greeting">Hello HTML</h1>
<p>An image from afar: <img src="${remoteBase}/remote.png" alt="remote"></p>
<script>fetch("${remoteBase}/script-ran");</script>
<img src="x" onerror="fetch('${remoteBase}/handler-ran')">
</body></html>`;
  const innerHtml = crlf(`Content-Type: multipart/mixed; boundary="${boundary}"

--${boundary}
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

${html}
--${boundary}
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"
Content-Transfer-Encoding: base64

${Buffer.from("attachment bytes\n").toString("base64")}
--${boundary}--
`);
  const encHeaders = envelope("Bob <bob@example.test>", "alice@example.test", "Encrypted for Alice");
  m.encrypted = encHeaders + encrypt(innerHtml, "alice").toString("latin1");
  m.notForMe = envelope("alice@example.test", "bob@example.test", "Encrypted for Bob") + encrypt(text("Only for Bob."), "bob").toString("latin1");
  const p7m = encrypt(text("Just the p7m."), "alice", "DER");

  // 50 KB signed text and a 10 MB encrypted message with an attachment.
  const lines = [];
  while (lines.join("\n").length < 50_000) lines.push(`Line ${lines.length}: the quick brown fox jumps over the lazy dog.`);
  m.signed50k = envelope("Bob <bob@example.test>", "alice@example.test", "50 KB signed") + sign(text(lines.join("\n")), "bob");
  const big = randomBytes(5_500_000).toString("base64").replace(/.{76}/g, "$&\n");
  const innerBig = crlf(`Content-Type: multipart/mixed; boundary="${boundary}"

--${boundary}
Content-Type: text/plain; charset=utf-8

A large attachment follows.
--${boundary}
Content-Type: application/octet-stream; name="big.bin"
Content-Disposition: attachment; filename="big.bin"
Content-Transfer-Encoding: base64

${big}
--${boundary}--
`);
  m.encrypted10m = encHeaders + encrypt(innerBig, "alice").toString("latin1");

  const files = {};
  for (const [name, value] of Object.entries(m)) {
    files[name] = join(dir, `${name}.eml`);
    writeFileSync(files[name], Buffer.from(value, "latin1"));
  }
  files.p7m = join(dir, "smime.p7m");
  writeFileSync(files.p7m, p7m);
  return {
    files,
    alice: readFileSync(p("alice.p12")),
    carol: readFileSync(p("carol.p12")),
    root: readFileSync(p("root.pem"), "utf8"),
  };
}

// A local web server standing in for "the internet": every request to it is recorded in `hits`.
export async function startRemoteServer() {
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, {"content-type": "image/png"});
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {hits, server, remoteBase: `http://127.0.0.1:${server.address().port}`};
}

// The host as the browser starts it, with its key store in `work`/store; returns the program path
// a host manifest names.
export function writeHostWrapper(work) {
  const wrapper = join(work, "smime-host-wrapper");
  writeFileSync(wrapper, `#!/bin/sh\nSMIME_HOST_HOME='${join(work, "store")}' exec '${hostBinary()}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}
