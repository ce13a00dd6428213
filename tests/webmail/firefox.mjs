// SPDX-License-Identifier: MIT
// Roundcube with the S/MIME plugin in headless Firefox ESR over Marionette, with the built
// add-on and the real host; the webmail's origin is granted by the administrator (managed
// storage). Log in, compose to a recipient whose certificate is known and see the icons, be
// warned about one without, send signed and encrypted, 50 KB and 10 MB (the Sent copy is the
// SMTP bytes, openssl cms and NSS decrypt and verify them), open signed, tampered, untrusted,
// encrypted and not-for-me messages and see the badges with no decrypted text in the webmail's
// DOM, and an origin that was not granted gets no API. Prints the Send-to-SMTP and open-to-badge
// times.
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {mozillaHome, startFirefox, stopBrowser} from "../../extension/tests/browser/launch.mjs";
import {Marionette} from "../../extension/tests/browser/marionette.mjs";
import {ARTIFACTS, checker, header, imapNewest, nssOpen, opensslOpen, ORIGIN, OTHER_ORIGIN, PASSWORD, REPO,
  setUp, sinkMessages, tearDown, USER, waitForSink} from "./common.mjs";

const ids = JSON.parse(readFileSync(join(REPO, "extension/ids.json"), "utf8"));
const XPI = join(REPO, "extension/dist/smime-host-firefox.xpi");
const FIREFOX = process.env.FIREFOX ?? ["/usr/bin/firefox-esr", "/usr/bin/firefox"].find(existsSync);
const {check, failures} = checker();

if (!FIREFOX) throw new Error("firefox-esr is not installed (installer/deps.sh --test installs it)");
if (!existsSync(XPI)) throw new Error("build the extension first: npm run build");
mkdirSync(ARTIFACTS, {recursive: true});
const work = mkdtempSync(join(tmpdir(), "smime-webmail-firefox-"));
const {pki, wrapper, env} = setUp(work);

const home = mozillaHome(work, wrapper, ids.firefox_id, {description: "webmail test policy", data: {page_api_origins: [ORIGIN]}});
const {firefox, port} = await startFirefox(FIREFOX, work, home, {width: 1280, height: 900, prefs: [["dom.disable_beforeunload", true]]});

const HELPERS = `
const $ = (s) => document.querySelector(s);
async function until(f, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) { const v = f(); if (v) return v; if (Date.now() > end) throw new Error("timed out: " + f); await new Promise((r) => setTimeout(r, 50)); }
}
`;
let m;
async function page(body, args = {}, timeout = 120_000) {
  const script = `const args = arguments[0]; const resolve = arguments[arguments.length - 1]; ${HELPERS}
    (async () => { ${body} })().then(resolve, (e) => resolve({error: String(e && e.message || e)}));`;
  const r = await m.run(script, [args], timeout);
  if (r && typeof r === "object" && "error" in r && Object.keys(r).length === 1) throw new Error(r.error);
  return r;
}
const go = (url) => m.command("WebDriver:Navigate", {url});
async function typeInto(selector, text) {
  const {value} = await m.command("WebDriver:FindElement", {using: "css selector", value: selector});
  const id = Object.values(value)[0];
  await m.command("WebDriver:ElementSendKeys", {id, text});
}
async function click(selector) {
  const {value} = await m.command("WebDriver:FindElement", {using: "css selector", value: selector});
  await m.command("WebDriver:ElementClick", {id: Object.values(value)[0]});
}
/** A screenshot saved and checked: of some size, and `selector` drawn in `rgb` (pixels counted in the page). */
async function shot(name, selector, rgb) {
  const {value} = await m.command("WebDriver:TakeScreenshot", {full: false});
  writeFileSync(join(ARTIFACTS, name), Buffer.from(value, "base64"));
  check(statSync(join(ARTIFACTS, name)).size > 20_000, `${name} saved (${statSync(join(ARTIFACTS, name)).size} bytes)`);
  if (!selector) return;
  const matching = await page(`
    const box = $(args.selector).getBoundingClientRect();
    const img = new Image(); img.src = "data:image/png;base64," + args.png; await img.decode();
    const canvas = document.createElement("canvas"); canvas.width = img.width; canvas.height = img.height;
    const ctx = canvas.getContext("2d"); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(Math.round(box.x), Math.round(box.y), Math.max(1, Math.round(box.width)), Math.max(1, Math.round(box.height))).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if ([0, 1, 2].every((c) => Math.abs(d[i + c] - args.rgb[c]) <= 40)) n++;
    return n;`, {selector, rgb, png: value});
  check(matching >= 12, `${name}: ${selector} is drawn in ${rgb} (${matching} pixels)`);
}
async function login(origin) {
  await go(`${origin}/`);
  await typeInto("#rcmloginuser", USER);
  await typeInto("#rcmloginpwd", PASSWORD);
  await click("#rcmloginsubmit");
  await page(`await until(() => location.search.includes("_task=mail") && window.rcmail && rcmail.busy === false); return true;`);
}
// Roundcube keeps compose sessions in the PHP session, which a request of the page being left can
// write back over (under load it answers "compose session not found"): such a page is opened again.
async function compose() {
  for (let attempt = 1; ; attempt++) {
    await go(`${ORIGIN}/?_task=mail&_action=compose`);
    const state = await page(`await until(() => ($("#smime-compose") && $("#smime-compose").dataset.state) ||
        /compose session not found/i.test(document.body.textContent), 30000);
      if (!$("#smime-compose")) return null;
      return {state: $("#smime-compose").dataset.state, sign: $("#smime-sign").checked, encrypt: $("#smime-encrypt").checked};`);
    if (state || attempt === 3) return state || {state: "compose session not found"};
    console.log("compose: Roundcube lost its compose session; opening the page again");
  }
}

try {
  m = await Marionette.open(port);
  await m.command("WebDriver:NewSession", {capabilities: {}});
  await m.command("Addon:Install", {path: XPI, temporary: true});
  await login(ORIGIN);
  check(true, "logged in to Roundcube");

  // --- compose ---
  const start = await compose();
  check(start.state === "ready", `the compose page reaches the add-on (granted by policy): ${start.state}`);
  check(start.sign && !start.encrypt, "the toggles start from the user's settings (sign on, encrypt off)");
  await typeInto("#compose_to ul.recipient-input input", "bob@example.test, dave@example.test, ");
  const icons = await page(`await until(() => /bob@example.test=true/.test(document.body.dataset.smimeRecipients || "") &&
      /dave@example.test=false/.test(document.body.dataset.smimeRecipients || ""), 30000);
    const li = (a) => [...document.querySelectorAll("li.recipient")].find((l) => l.textContent.includes(a));
    return {bob: !!li("bob@example.test").querySelector(".smime-lock"), dave: !!li("dave@example.test").querySelector(".smime-lock"),
      from: !$("#smime-from-icon").hidden};`);
  check(icons.bob && !icons.dave && icons.from, `a lock next to bob, none next to dave, a seal next to From (${JSON.stringify(icons)})`);
  await page(`$("#compose-subject").value = "Quarterly numbers"; $("#composebody").value = "Hello Bob"; $("#smime-encrypt").click(); return true;`);
  await shot("firefox-compose.png", "li.recipient .smime-lock", [30, 123, 52]);
  const before = sinkMessages(env).length;
  await click("button.btn.send");
  const warned = await page(`await until(() => $("#smime-warning"), 30000);
    return [...document.querySelectorAll("#smime-warning li")].map((l) => l.textContent);`);
  check(warned.join() === "dave@example.test", `sending encrypted warns about dave (${warned})`);
  await click(".ui-dialog button.smime-cancel");
  await new Promise((r) => setTimeout(r, 1000));
  check(sinkMessages(env).length === before, "cancelled: nothing was sent");

  // --- send signed and encrypted, 50 KB ---
  const secret = "The vault code is 7-4-1-9. ";
  let text = "";
  while (text.length < 50_000) text += `${secret}Line ${text.length}: the quick brown fox jumps over the lazy dog.\n`;
  await page(`rcmail.compose_skip_unsavedcheck = true; return true;`);
  await compose();
  await page(`$("#smime-encrypt").click(); return true;`);
  await typeInto("#compose_to ul.recipient-input input", "bob@example.test, ");
  await page(`$("#compose-subject").value = "50 KB signed and encrypted"; $("#composebody").value = args.text;
    await until(() => /bob@example.test=true/.test(document.body.dataset.smimeRecipients || "")); return true;`, {text});
  const clicked = Date.now();
  await click("button.btn.send");
  const [main] = (await waitForSink(env, before + 1, 120_000)).slice(before);
  const sendMs = main.received_at_ms - clicked;
  check(main.rcpt_to.join() === "bob@example.test" && main.mail_from === USER, `delivered to bob from alice (${main.rcpt_to})`);
  check(/application\/(x-)?pkcs7-mime/.test(header(main.eml, "Content-Type")[0] ?? "") && !main.eml.includes(secret), "S/MIME enveloped data, no clear text");
  // Roundcube leaves the compose page once the message went out (the page unloads: ask from here).
  for (let i = 0; i < 600 && (await m.command("WebDriver:GetCurrentURL")).value.includes("_action=compose"); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  check(Buffer.compare(imapNewest("Sent"), main.eml) === 0, "the Sent copy is the SMTP bytes");
  try {
    check(opensslOpen(work, pki, main.eml, "bob").content.toString("latin1").includes(secret), "openssl cms decrypts and verifies it");
    const nss = nssOpen(work, pki, main.eml, "bob");
    check(nss.inner.includes(secret) && nss.verified, `Thunderbird's NSS (cmsutil) decrypts and verifies it (${nss.detail})`);
  } catch (e) {
    check(false, `peers: ${e.stderr ?? e.message}`);
  }

  // --- a 10 MB signed and encrypted message (an attachment) ---
  const big = join(work, "big.bin");
  const bytes = Buffer.alloc(10 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(big, bytes);
  await compose();
  await page(`$("#smime-encrypt").click(); return true;`);
  await typeInto("#compose_to ul.recipient-input input", "bob@example.test, ");
  await page(`$("#compose-subject").value = "10 MB signed and encrypted"; $("#composebody").value = "The file is attached."; return true;`);
  await typeInto("#uploadform input[type=file]", big);
  await page(`await until(() => $("#attachment-list li") && !$("#attachment-list li.uploading"), 120000); return true;`, {}, 180_000);
  const beforeLarge = sinkMessages(env).length;
  const clickedLarge = Date.now();
  await click("button.btn.send");
  const [large] = (await waitForSink(env, beforeLarge + 1, 240_000)).slice(beforeLarge);
  const largeMs = large.received_at_ms - clickedLarge;
  for (let i = 0; i < 600 && (await m.command("WebDriver:GetCurrentURL")).value.includes("_action=compose"); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  check(large.eml.length > 13_000_000 && Buffer.compare(imapNewest("Sent"), large.eml) === 0,
    `the 10 MB message reached the sink (${large.eml.length} bytes) and the Sent copy is the same bytes`);

  // --- reading ---
  for (const [uid, level, verdict] of [["1", "signed", "good"], ["2", "signed", "bad_signature"], ["3", "signed", "untrusted"],
    ["4", "encrypted", null], ["5", null, null]]) {
    await go(`${ORIGIN}/?_task=mail&_mbox=INBOX&_uid=${uid}&_action=show`);
    const r = await page(`await until(() => $("#smime-viewer") && ["shown", "error"].includes($("#smime-viewer").dataset.state), 60000);
      return {...$("#smime-viewer").dataset, frame: !!$("#smime-viewer iframe"), html: document.documentElement.outerHTML.includes("Hello HTML"),
        summary: $("#smime-summary").textContent};`);
    if (level === null) {
      check(r.state === "error" && r.code === "ERR_DECRYPT_FAILED", `uid ${uid} (not for me): ${r.code}`);
      continue;
    }
    check(r.state === "shown" && r.level.includes(level) && (verdict === null || r.verdict === verdict) && r.frame,
      `uid ${uid}: ${r.level} ${r.verdict}, "${r.summary}", viewer frame ${r.frame}`);
    if (uid === "4") {
      check(!r.html, "the webmail page's own DOM never holds the decrypted text");
      await shot("firefox-read-encrypted.png", "#smime-summary .smime-lock", [30, 123, 52]);
    }
    if (uid === "1") await shot("firefox-read-signed.png", "#smime-summary .smime-seal", [212, 160, 23]);
  }
  const opens = [];
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    await go(`${ORIGIN}/?_task=mail&_mbox=INBOX&_uid=6&_action=show`);
    await page(`await until(() => $("#smime-summary .smime-seal"), 60000); return true;`);
    opens.push(Date.now() - t0);
  }
  opens.sort((a, b) => a - b);

  // --- not granted ---
  await login(OTHER_ORIGIN);
  await go(`${OTHER_ORIGIN}/?_task=mail&_mbox=INBOX&_uid=1&_action=show`);
  const other = await page(`await until(() => $("#smime-viewer") && $("#smime-viewer").dataset.state !== "loading", 20000);
    const code = await window.SmimeWebmail.connect({timeoutMs: 1000}).then(() => "connected", (e) => e.code);
    return {state: $("#smime-viewer").dataset.state, code};`);
  check(other.state === "unavailable" && other.code === "ERR_NOT_GRANTED", `an origin that was not granted gets no API (${JSON.stringify(other)})`);

  console.log(`TIMING firefox roundcube: click Send to message at the SMTP sink, signed+encrypted 50 KB ${Math.round(sendMs)} ms; 10 MB ${Math.round(largeMs)} ms; ` +
    `open a 50 KB signed message to the badge shown: median of 3 ${opens[1]} ms`);
} catch (e) {
  check(false, `the test stopped: ${String(e.message).split("\n")[0]}`);
  await shot("firefox-failure.png").catch(() => {});
} finally {
  stopBrowser(m, firefox);
  tearDown(env);
  if (!process.env.SMIME_KEEP_WORK) setTimeout(() => rmSync(work, {recursive: true, force: true}), 1000);
}
console.log(failures() ? `${failures()} check(s) failed` : "all roundcube firefox checks passed");
setTimeout(() => process.exit(failures() ? 1 : 0), 1500);
