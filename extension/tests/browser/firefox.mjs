// SPDX-License-Identifier: MIT
// The built Firefox extension in headless Firefox ESR with the real host on a temporary key store,
// driven over Marionette (the add-on installed temporarily, its pages opened by their
// moz-extension URL): import a PKCS#12 and see it listed with its warnings, trust a root, open
// signed, tampered, untrusted and encrypted messages in the reader and check the banner, no script
// runs and no remote image loads until allowed, passphrase set, lock and unlock. Screenshots go
// to the artifacts folder; prints the open-to-verdict times.
import {readFileSync, rmSync, statSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {ARTIFACTS, checker, ids, makeFixtures, P12_PASSWORD, REPO, startRemoteServer, writeHostWrapper} from "./fixtures.mjs";
import {FIREFOX, firefoxTestSetup, installAddon, mozillaHome, startFirefox, stopBrowser} from "./launch.mjs";
import {Marionette} from "./marionette.mjs";

const XPI = join(REPO, "extension/dist/smime-host-firefox.xpi");
const PASSPHRASE = "correct horse battery staple";

const {check, failures} = checker();

const work = firefoxTestSetup(XPI, ARTIFACTS, "smime-ext-firefox-");

const {hits, server, remoteBase} = await startRemoteServer();
const data = makeFixtures(join(work, "data"), remoteBase);

// HOME for Firefox: the host manifest in ~/.mozilla/native-messaging-hosts.
const home = mozillaHome(work, writeHostWrapper(work), ids.firefox_id);
const {firefox, port} = await startFirefox(FIREFOX, work, home, {width: 1100, height: 1000});

// Helpers every page script gets: wait for a selector, text of an element, set a file input.
const HELPERS = `
const $ = (s) => document.querySelector(s);
const text = (s) => ($(s) ? $(s).textContent : null);
async function until(f, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) { const v = f(); if (v) return v; if (Date.now() > end) throw new Error("timed out: " + f); await new Promise((r) => setTimeout(r, 50)); }
}
function setFile(selector, name, b64) {
  const bin = atob(b64); const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const dt = new DataTransfer(); dt.items.add(new File([bytes], name));
  const input = $(selector); input.files = dt.files; input.dispatchEvent(new Event("change", {bubbles: true}));
}
function click(s) { $(s).click(); }
function fill(s, v) { $(s).value = v; }
`;

let m;
async function page(body, args = {}) {
  const script = `const args = arguments[0]; const resolve = arguments[arguments.length - 1]; ${HELPERS}
    (async () => { ${body} })().then(resolve, (e) => resolve({error: String(e && e.message || e)}));`;
  const r = await m.run(script, [args], 120_000);
  if (r && typeof r === "object" && "error" in r && Object.keys(r).length === 1) throw new Error(r.error);
  return r;
}

try {
  m = await Marionette.open(port);
  const host = await installAddon(m, XPI, ids.firefox_id);
  const base = `moz-extension://${host}/pages`;
  check(/^[0-9a-f-]{36}$/.test(host), `the add-on ${ids.firefox_id} is installed (${host})`);

  // --- options page ---
  await m.command("WebDriver:Navigate", {url: `${base}/options.html`});
  const start = await page(`await until(() => document.body.dataset.state === "ready"); return {store: text("#store-state"), version: text("#host-version")};`);
  check(start.store === "The key store has no passphrase." && /^smime-host \d/.test(start.version), `options page talks to the host (${start.version})`);
  const b64 = (buf) => Buffer.from(buf).toString("base64");
  const imported = await page(`
    setFile("#p12-file", "alice.p12", args.alice); fill("#p12-password", args.password); click("#import-form button[type=submit]");
    await until(() => document.querySelector(".identity"));
    setFile("#p12-file", "carol.p12", args.carol); fill("#p12-password", ""); click("#import-form button[type=submit]");
    await until(() => document.querySelectorAll(".identity").length === 2);
    const carol = [...document.querySelectorAll(".identity")].find((e) => e.textContent.includes("carol@example.test"));
    return {alice: [...document.querySelectorAll(".identity")].some((e) => /In use for alice@example.test/.test(e.textContent)),
      carol: [...carol.querySelectorAll(".warnings li")].map((e) => e.textContent)};`,
  {alice: b64(data.alice), carol: b64(data.carol), password: P12_PASSWORD});
  check(imported.alice, "alice's identity is imported and active");
  check(imported.carol.includes("Expired."), `carol's is listed with its warning (${imported.carol})`);
  const root = await page(`
    const kind = $("#certificate-kind"); kind.value = "root"; kind.dispatchEvent(new Event("change"));
    fill("#certificate-paste", args.root); $("#root-understood").checked = true; click("#certificate-form button[type=submit]");
    await until(() => [...document.querySelectorAll("#certificates tr")].some((r) => r.textContent.includes("Trusted root")));
    return true;`, {root: data.root});
  check(root === true, "the root is imported and listed as a trusted root");
  const shot = async (name) => {
    const {value} = await m.command("WebDriver:TakeScreenshot", {full: false});
    writeFileSync(join(ARTIFACTS, name), Buffer.from(value, "base64"));
    check(statSync(join(ARTIFACTS, name)).size > 15_000, `${name} saved (${statSync(join(ARTIFACTS, name)).size} bytes)`);
  };
  await shot("firefox-options.png");

  // --- reader ---
  await m.command("WebDriver:Navigate", {url: `${base}/reader.html`});
  const open = (file) => page(`
    document.body.dataset.state = "";
    setFile("#file", args.name, args.data);
    await until(() => ["shown", "error"].includes(document.body.dataset.state));
    return {state: document.body.dataset.state, headline: text("#banner-headline"),
      verdicts: [...document.querySelectorAll(".signature .verdict")].map((e) => e.textContent),
      error: text("#error"), code: $("#error").dataset.code || null,
      ms: document.body.dataset.state === "shown" ? performance.measure("v", "open", "verdict").duration : null};`, {name: file.split("/").pop(), data: readFileSync(file).toString("base64")});
  for (const [name, verdict] of [["signed", "Valid signature, signer trusted"],
    ["tampered", "Content changed after signing, or the signature cannot be checked"], ["untrusted", "Signer not trusted"]]) {
    const r = await open(data.files[name]);
    check(r.state === "shown" && r.headline === "Signed" && r.verdicts[0] === verdict, `${name}: banner "${r.headline}: ${r.verdicts}" ${r.error ?? ""}`);
    if (name === "signed") await shot("firefox-reader-signed.png");
  }
  const enc = await open(data.files.encrypted);
  check(enc.state === "shown" && enc.headline === "Encrypted", `encrypted to me: "${enc.headline}" ${enc.error ?? ""}`);
  await new Promise((r) => setTimeout(r, 1000));
  check(!hits.some((h) => /script-ran|handler-ran/.test(h)), `no script of the message ran (server saw ${JSON.stringify(hits)})`);
  check(!hits.includes("/remote.png"), "the remote image was not fetched");
  await page(`click("#allow-remote"); return true;`);
  await new Promise((r) => setTimeout(r, 1500));
  check(hits.includes("/remote.png"), "after the user allows it, the remote image is fetched");
  check(!hits.some((h) => /script-ran|handler-ran/.test(h)), "still no script ran");
  const other = await open(data.files.notForMe);
  check(other.state === "error" && other.code === "ERR_DECRYPT_FAILED", `encrypted for someone else: "${other.error}"`);

  // --- passphrase ---
  await m.command("WebDriver:Navigate", {url: `${base}/options.html`});
  const pass = await page(`await until(() => document.body.dataset.state === "ready");
    fill("#new-passphrase", args.p); fill("#repeat-passphrase", args.p); click("#passphrase-form button[type=submit]");
    await until(() => !$("#lock").hidden); click("#lock");
    await until(() => $("#store-state").dataset.state === "store_locked");
    fill("#unlock-passphrase", "not it"); click("#unlock-form button[type=submit]");
    await until(() => $("#status-message").dataset.code === "ERR_BAD_PASSPHRASE");
    const wrong = text("#status-message");
    fill("#unlock-passphrase", args.p); click("#unlock-form button[type=submit]");
    await until(() => $("#store-state").dataset.state === "store_unlocked");
    return {wrong};`, {p: PASSPHRASE});
  check(pass.wrong === "The passphrase is wrong.", "passphrase set, store locked, a wrong passphrase refused in words, unlocked");

  await m.command("WebDriver:Navigate", {url: `${base}/reader.html`});
  // The 10 MB message opens once: it shows that a message of that size gets through; its time is
  // a figure to read, not a benchmark (the host's own are in tests/bench/).
  const time = async (file, count) => {
    const runs = [];
    for (let i = 0; i < count; i++) {
      const r = await open(file);
      if (r.state !== "shown") throw new Error("timing run failed: " + r.error);
      runs.push(r.ms);
    }
    return runs.sort((a, b) => a - b)[Math.floor(count / 2)];
  };
  const t50 = await time(data.files.signed50k, 3);
  const t10 = await time(data.files.encrypted10m, 1);
  console.log(`TIMING firefox: open to verdict, port open: 0.05 MB signed ${t50.toFixed(0)} ms (median of 3); ` +
    `${(statSync(data.files.encrypted10m).size / 1e6).toFixed(2)} MB encrypted ${t10.toFixed(0)} ms (one run)`);
} finally {
  stopBrowser(m, firefox);
  server.close();
  if (!process.env.SMIME_KEEP_WORK) setTimeout(() => rmSync(work, {recursive: true, force: true}), 1000);
}
console.log(failures() ? `${failures()} check(s) failed` : "all firefox checks passed");
setTimeout(() => process.exit(failures() ? 1 : 0), 1500);
