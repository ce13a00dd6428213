// SPDX-License-Identifier: MIT
// What the Roundcube browser tests share: the test PKI and messages, a key store for the host
// with "me" (alice) and the correspondents' certificates, the webmail environment (env.sh), the
// SMTP sink's files, the Sent folder over IMAP, and the peers that check what was sent
// (`openssl cms`, Thunderbird's NSS `cmsutil`).
import {execFileSync, spawnSync} from "node:child_process";
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {makeFixtures, P12_PASSWORD, writeHostWrapper} from "../../extension/tests/browser/fixtures.mjs";
import {hostBinary} from "../../extension/tests/framed-host.mjs";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const ENV = join(REPO, "tests/webmail/env.sh");
export const PORT = Number(process.env.SMIME_WEBMAIL_PORT ?? 18480);
export const ORIGIN = `http://127.0.0.1:${PORT}`;
// The same server under another origin (another host name): a page the user never granted.
export const OTHER_ORIGIN = `http://localhost:${PORT}`;
export const USER = "alice@example.test";
export const PASSWORD = "alice-secret";
export const ARTIFACTS = process.env.SMIME_WEBMAIL_ARTIFACTS ?? join(REPO, "build/webmail-artifacts");

export {checker} from "../../extension/tests/browser/fixtures.mjs";

const openssl = (args, input) =>
  execFileSync("openssl", args, {input, env: {...process.env, OPENSSL_CONF: "/dev/null"}, maxBuffer: 1 << 30,
    stdio: ["pipe", "pipe", "pipe"]});

/**
 * Test data, the host's key store and the running webmail, in `work`. Messages for the read tests
 * are dropped into alice's Maildir before the browser starts.
 */
export function setUp(work) {
  chmodSync(work, 0o755); // Dovecot reads the Maildir as nobody
  const data = makeFixtures(join(work, "data"), "http://127.0.0.1:9");
  const pki = join(work, "data/pki");
  // A second correspondent with a sound certificate, for Bcc: erin, issued by the test intermediate.
  openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", join(pki, "erin.key"), "-out", join(pki, "erin.csr"),
    "-subj", "/CN=erin/emailAddress=erin@example.test", "-config", join(pki, "ca.cnf")]);
  openssl(["x509", "-req", "-in", join(pki, "erin.csr"), "-CA", join(pki, "intermediate.pem"), "-CAkey", join(pki, "intermediate.key"),
    "-CAcreateserial", "-out", join(pki, "erin.pem"), "-days", "3650", "-extfile", join(pki, "ca.cnf"), "-extensions", "rsa_user"]);

  const store = join(work, "store");
  mkdirSync(store, {recursive: true});
  const host = (args, input) => execFileSync(hostBinary(), args, {input,
    env: {...process.env, SMIME_HOST_HOME: store, P12_PASSWORD}, stdio: ["pipe", "pipe", "pipe"]}).toString();
  host(["identities.import", "--in", join(pki, "alice.p12"), "--password-env", "P12_PASSWORD"]);
  host(["certificates.import", "--certificate", `@${join(pki, "root.pem")}`, "--trust-anchor"]);
  for (const name of ["intermediate", "bob", "erin"]) host(["certificates.import", "--certificate", `@${join(pki, `${name}.pem`)}`]);
  const wrapper = writeHostWrapper(work);

  const env = join(work, "env");
  execFileSync(ENV, ["start", env], {stdio: "inherit"});
  // Read tests: one message per verdict, in this order (their IMAP UIDs are 1, 2, ...).
  const inbox = ["signed", "tampered", "untrusted", "encrypted", "notForMe", "signed50k"];
  for (const name of inbox) execFileSync(ENV, ["deliver", env, USER, data.files[name]]);
  return {data, pki, store, wrapper, env, inbox};
}

export function tearDown(env) {
  try {
    execFileSync(ENV, ["stop", env], {stdio: "inherit"});
  } catch (e) {
    console.log(`stopping the webmail environment: ${e.message}`);
  }
}

/** The sink's messages: [{eml: Buffer, mail_from, rcpt_to, received_at_ms}], oldest first. */
export function sinkMessages(env) {
  const dir = join(env, "smtp");
  return readdirSync(dir).filter((n) => n.endsWith(".eml")).sort().map((n) => ({
    eml: readFileSync(join(dir, n)),
    ...JSON.parse(readFileSync(join(dir, n.replace(/\.eml$/, ".json")), "utf8")),
  }));
}

export async function waitForSink(env, count, timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const messages = sinkMessages(env);
    if (messages.length >= count) return messages;
    if (Date.now() > end) throw new Error(`the SMTP sink got ${messages.length} message(s), expected ${count}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The newest message of an IMAP folder, as IMAP serves it (BODY.PEEK[]). */
export function imapNewest(folder, user = USER, password = PASSWORD) {
  const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", ${Number(process.env.SMIME_IMAP_PORT ?? 18143)})
m.login(sys.argv[1], sys.argv[2])
m.select(sys.argv[3], readonly=True)
typ, data = m.uid("SEARCH", None, "ALL")
uid = data[0].split()[-1]
typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
sys.stdout.buffer.write(data[0][1])
m.logout()
`;
  return execFileSync("python3", ["-c", script, user, password, folder], {maxBuffer: 1 << 30});
}

export const header = (eml, name) => {
  const head = eml.subarray(0, eml.indexOf("\r\n\r\n") + 2).toString("latin1").replace(/\r\n[ \t]+/g, " ");
  return head.split("\r\n").filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":"))
    .map((l) => l.slice(name.length + 1).trim());
};

/**
 * Decrypts with `who`'s key and verifies the signature inside with openssl cms; returns the inner
 * text or throws with openssl's words.
 */
export function opensslOpen(work, pki, eml, who) {
  const file = join(work, "peer-in.eml");
  writeFileSync(file, eml);
  const inner = openssl(["cms", "-decrypt", "-in", file, "-recip", join(pki, `${who}.pem`), "-inkey", join(pki, `${who}.key`)]);
  writeFileSync(join(work, "peer-inner.eml"), inner);
  const content = openssl(["cms", "-verify", "-in", join(work, "peer-inner.eml"), "-CAfile", join(pki, "root.pem"),
    "-certfile", join(pki, "intermediate.pem"), "-purpose", "smimesign"]);
  return {inner, content};
}

/**
 * The same with Thunderbird's NSS: cmsutil decodes the enveloped data with `who`'s key from an
 * NSS database, then verifies the inner signature (detached, multipart/signed) against the root.
 */
export function nssOpen(work, pki, eml, who) {
  // Debian's cmsutil run on Thunderbird's own NSS libraries.
  const cmsutil = ["/usr/bin/cmsutil"].find(existsSync);
  if (!cmsutil) throw new Error("cmsutil is not installed (libnss3-tools)");
  const nssEnv = {...process.env, LD_LIBRARY_PATH: "/usr/lib/thunderbird"};
  const db = join(work, `nss-${who}`);
  if (!existsSync(db)) {
    mkdirSync(db);
    writeFileSync(join(db, "pw"), "");
    execFileSync("certutil", ["-N", "-d", `sql:${db}`, "-f", join(db, "pw")]);
    openssl(["pkcs12", "-export", "-inkey", join(pki, `${who}.key`), "-in", join(pki, `${who}.pem`), "-out", join(db, "me.p12"), "-passout", "pass:x"]);
    execFileSync("pk12util", ["-i", join(db, "me.p12"), "-d", `sql:${db}`, "-W", "x", "-k", join(db, "pw")], {stdio: "ignore"});
    execFileSync("certutil", ["-A", "-d", `sql:${db}`, "-n", "root", "-t", "C,C,C", "-i", join(pki, "root.pem")]);
    execFileSync("certutil", ["-A", "-d", `sql:${db}`, "-n", "intermediate", "-t", ",,", "-i", join(pki, "intermediate.pem")]);
  }
  const der = join(work, "nss-in.p7m");
  const body = eml.subarray(eml.indexOf("\r\n\r\n") + 4).toString("latin1");
  writeFileSync(der, Buffer.from(body.replace(/\s+/g, ""), "base64"));
  const inner = execFileSync(cmsutil, ["-D", "-i", der, "-d", `sql:${db}`, "-f", join(db, "pw")], {env: nssEnv, maxBuffer: 1 << 30});
  // The inner entity: multipart/signed; split off the signature part and check it over the content.
  const text = inner.toString("latin1");
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(text)?.[1];
  if (!boundary) throw new Error("cmsutil: the decrypted entity is not multipart/signed");
  const parts = text.split(`--${boundary}`);
  const signedPart = parts[1].replace(/^\r\n/, "").replace(/\r\n$/, "");
  const sigPart = parts[2];
  const sig = Buffer.from(sigPart.slice(sigPart.indexOf("\r\n\r\n") + 4).replace(/\s+/g, ""), "base64");
  writeFileSync(join(work, "nss-content"), Buffer.from(signedPart, "latin1"));
  writeFileSync(join(work, "nss-sig.p7s"), sig);
  // cmsutil exits non-zero and names the signer's status ("signer 0 status = DigestMismatch") when
  // a signature does not verify; the tampered copy shows that this check can fail.
  const verify = (content) => spawnSync(cmsutil, ["-D", "-i", join(work, "nss-sig.p7s"), "-c", content,
    "-d", `sql:${db}`, "-u", "4"], {env: nssEnv, maxBuffer: 1 << 30});
  const good = verify(join(work, "nss-content"));
  writeFileSync(join(work, "nss-tampered"), Buffer.from(signedPart.replace(/[a-z]/, "Z"), "latin1"));
  const bad = verify(join(work, "nss-tampered"));
  const verified = good.status === 0 && !/signer \d+ status/.test(good.stderr.toString()) &&
    bad.status !== 0 && /signer \d+ status/.test(bad.stderr.toString());
  return {inner: text, verified, detail: `good: exit ${good.status}; tampered: ${bad.stderr.toString().split("\n")[0]}`};
}
