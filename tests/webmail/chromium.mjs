// SPDX-License-Identifier: MIT
// Roundcube with the S/MIME plugin in headless Chromium, with the built extension and the real
// host: grant the webmail's origin from the extension's popup, log in, compose to a recipient
// whose certificate is known and see the icons, be warned about one without, send signed and
// encrypted (the SMTP bytes are the host's output, the Sent copy is the same, openssl cms and
// Thunderbird's NSS decrypt and verify it, a Bcc recipient gets a copy of their own), open the
// messages in the Maildir and see the right badges with no decrypted text in the webmail's DOM,
// and an origin that was not granted gets no API. Prints the Send-to-SMTP and open-to-badge times.
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {ARTIFACTS, checker, header, imapNewest, nssOpen, opensslOpen, ORIGIN, OTHER_ORIGIN, PASSWORD, REPO,
  setUp, sinkMessages, tearDown, USER, waitForSink} from "./common.mjs";
import {launchChromium, pixelsOf} from "../../extension/tests/browser/launch.mjs";

const ids = JSON.parse(readFileSync(join(REPO, "extension/ids.json"), "utf8"));
const EXT = join(REPO, "extension/dist/chromium");
const BROWSER = process.env.CHROMIUM ?? ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find(existsSync);
const {check, failures} = checker();

if (!BROWSER) throw new Error("chromium is not installed (installer/deps.sh --test installs it)");
if (!existsSync(join(EXT, "manifest.json"))) throw new Error("build the extension first: npm run build");
mkdirSync(ARTIFACTS, {recursive: true});
const work = mkdtempSync(join(tmpdir(), "smime-webmail-chromium-"));
const {data, pki, wrapper, env} = setUp(work);

const context = await launchChromium(BROWSER, EXT, work, wrapper, ids.chromium_id, {viewport: {width: 1280, height: 900}});
const extBase = `chrome-extension://${ids.chromium_id}/pages`;

/** A screenshot saved and checked: a PNG of some size, and `selector`'s centre pixel near `rgb`. */
async function screenshot(page, name, selector, rgb) {
  const file = join(ARTIFACTS, name);
  const png = await page.screenshot({path: file});
  check(png.subarray(1, 4).toString() === "PNG" && statSync(file).size > 20_000, `${name} saved (${statSync(file).size} bytes)`);
  if (!selector) return;
  const box = await page.locator(selector).first().boundingBox();
  if (!check(box !== null, `${name}: ${selector} is on screen`)) return;
  // How many pixels inside the element have the colour (icons are small shapes on white).
  const d = await pixelsOf(page, png, Math.round(box.x), Math.round(box.y), Math.max(1, Math.round(box.width)),
    Math.max(1, Math.round(box.height)));
  let matching = 0;
  for (let i = 0; i < d.length; i += 4) if ([0, 1, 2].every((c) => Math.abs(d[i + c] - rgb[c]) <= 40)) matching++;
  check(matching >= 12, `${name}: ${selector} is drawn in ${rgb} (${matching} pixels)`);
}

async function login(page, origin) {
  await page.goto(`${origin}/`);
  await page.fill("#rcmloginuser", USER);
  await page.fill("#rcmloginpwd", PASSWORD);
  await Promise.all([page.waitForURL(/_task=mail/), page.click("#rcmloginsubmit")]);
}

/** The user's way: the extension's popup for the webmail's tab, "Allow S/MIME for <origin>". */
async function grant(page, origin) {
  const popup = await context.newPage();
  await popup.goto(`${extBase}/popup.html`);
  const tabId = await popup.evaluate(async (o) => (await chrome.tabs.query({url: `${o}/*`}))[0]?.id, origin);
  await popup.goto(`${extBase}/popup.html?tab=${tabId}`);
  await popup.click("#site-allow");
  await popup.waitForSelector("[data-state=granted]");
  check(true, `the popup granted ${origin}`);
  await popup.screenshot({path: join(ARTIFACTS, "chromium-popup-grant.png")});
  await popup.close();
}

async function typeRecipients(page, field, addresses) {
  if (field !== "to") await page.evaluate((f) => document.getElementById(`compose_${f}`).classList.remove("hidden"), field);
  const input = page.locator(`#compose_${field} ul.recipient-input input`);
  await input.click();
  await input.type(addresses.join(", ") + ", ");
}

async function compose(page) {
  // Leaving a compose page asks "discard?"; the tests leave on purpose.
  await page.evaluate(() => { if (window.rcmail) rcmail.compose_skip_unsavedcheck = true; });
  // Roundcube keeps compose sessions in the PHP session, which a request of the page being left
  // can write back over (under load it answers "compose session not found"): opened again then.
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${ORIGIN}/?_task=mail&_action=compose`);
    await page.waitForFunction(() => document.querySelector("#smime-compose[data-state]") ||
        /compose session not found/i.test(document.body.textContent), null, {timeout: 20_000});
    if (await page.$("#smime-compose[data-state]")) return;
    if (attempt === 3) throw new Error("Roundcube lost the compose session three times");
    console.log("compose: Roundcube lost its compose session; opening the page again");
  }
}

/**
 * Sends from the compose page; returns the sink's new messages, the click-to-sink time and, with
 * `capture`, the bodies the page uploaded to the plugin. The uploads are intercepted (page.route),
 * not watched: a watched request event was missed now and then on a busy machine, and a request
 * that is intercepted cannot go out unseen.
 */
async function send(page, expected, {capture = false} = {}) {
  const before = sinkMessages(env).length;
  const uploads = [];
  const uploadUrl = /[?&]_action=plugin\.smime-upload(&|$)/;
  const onUpload = async (route) => {
    uploads.push({url: route.request().url(), body: route.request().postDataBuffer()});
    await route.continue();
  };
  if (capture) await page.route(uploadUrl, onUpload);
  const clicked = Date.now();
  await page.click(".formbuttons button.send, button.btn.send");
  const messages = (await waitForSink(env, before + expected, 180_000)).slice(before);
  if (capture) await page.unroute(uploadUrl, onUpload);
  // Roundcube leaves the compose page once the server says the message went out.
  await page.waitForURL((u) => !u.href.includes("_action=compose"), {timeout: 60_000});
  await page.waitForLoadState("load");
  return {messages, uploads, ms: Math.max(...messages.map((m) => m.received_at_ms)) - clicked};
}

const bigAttachment = () => {
  const bytes = Buffer.alloc(10 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  return bytes;
};

try {
  const page = await context.newPage();
  page.on("dialog", (d) => {
    console.log(`dialog ${d.type()}: ${d.message()}`);
    return d.type() === "beforeunload" ? d.accept() : d.dismiss();
  });
  await login(page, ORIGIN);
  check(await page.title().then((t) => /Inbox/.test(t)), "logged in to Roundcube");
  await grant(page, ORIGIN);

  // --- the user's settings: S/MIME defaults under Composing Messages ---
  await page.goto(`${ORIGIN}/?_task=settings&_action=edit-prefs&_section=compose&_framed=1`);
  check(await page.isChecked("#rcmfd_smime_sign_default") && !(await page.isChecked("#rcmfd_smime_encrypt_default")),
    "the settings show the S/MIME defaults (sign on, encrypt off)");

  // --- compose: defaults, icons, the warning ---
  await compose(page);
  check(await page.getAttribute("#smime-compose", "data-state") === "ready", "the compose page reaches the extension");
  check(await page.isChecked("#smime-sign") && !(await page.isChecked("#smime-encrypt")),
    "the toggles start from the user's settings (sign on, encrypt off)");
  await page.waitForSelector("#smime-from-icon:not([hidden])");
  check(true, "a signing icon stands next to From");
  await typeRecipients(page, "to", ["bob@example.test", "dave@example.test"]);
  await page.waitForFunction(() => /bob@example.test=true/.test(document.body.dataset.smimeRecipients ?? "") &&
    /dave@example.test=false/.test(document.body.dataset.smimeRecipients ?? ""));
  check(await page.locator("li.recipient:has-text('bob@example.test') .smime-lock").isVisible(), "a lock stands next to bob, whose certificate is known");
  check(await page.locator("li.recipient:has-text('dave@example.test') .smime-lock").count() === 0, "no lock next to dave, who has none");
  await page.fill("#compose-subject", "Quarterly numbers");
  await page.fill("#composebody", "Hello Bob,\nthe numbers are in.\nAlice");
  await screenshot(page, "chromium-compose.png", "li.recipient:has-text('bob@example.test') .smime-lock", [30, 123, 52]);
  await page.check("#smime-encrypt");
  const sinkBefore = sinkMessages(env).length;
  await page.click("button.btn.send");
  await page.waitForSelector("#smime-warning", {timeout: 20_000});
  check((await page.locator("#smime-warning li").allTextContents()).join() === "dave@example.test",
    "sending encrypted warns that dave cannot receive encrypted mail");
  await screenshot(page, "chromium-compose-warning.png", null);
  await page.click(".ui-dialog button.smime-cancel");
  await page.waitForTimeout(1000);
  check(sinkMessages(env).length === sinkBefore, "cancelled: nothing was sent");

  // --- send signed and encrypted: To bob, Bcc erin; a 50 KB text ---
  await compose(page);
  await page.check("#smime-sign");
  await page.check("#smime-encrypt");
  await typeRecipients(page, "to", ["bob@example.test"]);
  await typeRecipients(page, "bcc", ["erin@example.test"]);
  await page.waitForFunction(() => /erin@example.test=true/.test(document.body.dataset.smimeRecipients ?? ""));
  const secret = "The vault code is 7-4-1-9. ";
  let text = "";
  while (text.length < 50_000) text += `${secret}Line ${text.length}: the quick brown fox jumps over the lazy dog.\n`;
  await page.fill("#compose-subject", "50 KB signed and encrypted");
  // As if pasted: typing 50 KB key by key would measure the test, not the product.
  await page.evaluate((t) => { document.getElementById("composebody").value = t; }, text);
  const small = await send(page, 2, {capture: true});
  const main = small.messages.find((m) => m.rcpt_to.includes("bob@example.test"));
  const copy = small.messages.find((m) => m.rcpt_to.includes("erin@example.test"));
  check(main && main.rcpt_to.length === 1 && copy && copy.rcpt_to.length === 1,
    `one message to bob and a separate one to erin (Bcc): ${JSON.stringify(small.messages.map((m) => m.rcpt_to))}`);
  const uploaded = small.uploads.find((u) => u.url.includes("_kind=main"))?.body;
  const firstDifference = uploaded && main ? [...uploaded].findIndex((byte, i) => byte !== main.eml[i]) : -1;
  check(uploaded && main && Buffer.compare(uploaded, main.eml) === 0, "the SMTP bytes are exactly the host's output (as the extension handed it to the page)" +
    ` (uploads seen: ${small.uploads.length}; uploaded ${uploaded?.length ?? "nothing"}, at the sink ${main?.eml.length ?? "nothing"} bytes; first difference at ${firstDifference})`);
  check(main && main.mail_from === USER, "the envelope sender is alice");
  check(main && header(main.eml, "Bcc").length === 0 && !main.eml.includes("erin@example.test"), "the message to bob does not name the Bcc recipient");
  check(main && /application\/(x-)?pkcs7-mime/.test(header(main.eml, "Content-Type")[0] ?? ""), "the message is S/MIME enveloped data");
  check(main && !main.eml.includes(secret), "the text is not in the clear on the wire");
  const sent = imapNewest("Sent");
  check(main && Buffer.compare(sent, main.eml) === 0, `the Sent copy is the same bytes (${sent.length} and ${main?.eml.length})`);
  try {
    const peer = opensslOpen(work, pki, main.eml, "bob");
    check(peer.content.toString("latin1").includes(secret), "openssl cms decrypts it with bob's key and verifies alice's signature");
  } catch (e) {
    check(false, `openssl cms: ${e.stderr ?? e.message}`);
  }
  try {
    const nss = nssOpen(work, pki, main.eml, "bob");
    check(nss.inner.includes(secret) && nss.verified, `Thunderbird's NSS (cmsutil) decrypts it with bob's key and verifies the signature (${nss.detail})`);
  } catch (e) {
    check(false, `cmsutil: ${e.stderr ?? e.message}`);
  }
  try {
    check(opensslOpen(work, pki, copy.eml, "erin").content.toString("latin1").includes(secret), "erin's own copy opens with erin's key");
    let bobReadsCopy = true;
    try {
      opensslOpen(work, pki, copy.eml, "bob");
    } catch {
      bobReadsCopy = false;
    }
    check(!bobReadsCopy, "bob cannot open erin's copy");
  } catch (e) {
    check(false, `erin's copy: ${e.stderr ?? e.message}`);
  }

  // --- a 10 MB signed and encrypted message (an attachment) ---
  await compose(page);
  await page.check("#smime-encrypt");
  await typeRecipients(page, "to", ["bob@example.test"]);
  await page.fill("#compose-subject", "10 MB signed and encrypted");
  await page.fill("#composebody", "The file is attached.");
  await page.setInputFiles("#uploadform input[type=file]", {name: "big.bin", mimeType: "application/octet-stream", buffer: bigAttachment()});
  await page.waitForSelector("#attachment-list li:not(.uploading)", {timeout: 120_000});
  const large = await send(page, 1);
  check(large.messages[0].eml.length > 13_000_000, `the 10 MB message reached the sink (${large.messages[0].eml.length} bytes)`);
  check(Buffer.compare(imapNewest("Sent"), large.messages[0].eml) === 0, "10 MB: the Sent copy is the same bytes");
  try {
    check(opensslOpen(work, pki, large.messages[0].eml, "bob").inner.length > 13_000_000, "10 MB: openssl cms decrypts and verifies it");
  } catch (e) {
    check(false, `10 MB, openssl cms: ${e.stderr ?? e.message}`);
  }

  // --- reading: each message of the Maildir in the extension's viewer ---
  const reads = [
    ["1", "signed", "good", "the minutes are attached"],
    ["2", "signed", "bad_signature", null],
    ["3", "signed", "untrusted", null],
    ["4", "encrypted", null, "Hello HTML"],
    ["5", null, null, null],
  ];
  for (const [uid, level, verdict, shown] of reads) {
    await page.goto(`${ORIGIN}/?_task=mail&_mbox=INBOX&_uid=${uid}&_action=show`);
    await page.waitForSelector("#smime-viewer[data-state=shown], #smime-viewer[data-state=error]", {timeout: 60_000});
    const state = await page.evaluate(() => ({...document.getElementById("smime-viewer").dataset}));
    if (level === null) {
      check(state.state === "error" && state.code === "ERR_DECRYPT_FAILED", `uid ${uid} (not for me): ${JSON.stringify(state)}`);
      continue;
    }
    check(state.state === "shown" && state.level.includes(level) && (verdict === null || state.verdict === verdict),
      `uid ${uid}: level ${state.level}, verdict ${state.verdict} (expected ${level}, ${verdict})`);
    // The viewer is the extension's frame; an HTML body sits in a sandboxed frame inside it.
    const extFrames = async () => page.frames().filter((f) => f !== page.mainFrame() && !f.url().startsWith(ORIGIN));
    let viewer = null;
    for (let i = 0; i < 100 && !viewer; i++) {
      viewer = (await extFrames()).find((f) => f.url().startsWith("chrome-extension://")) ?? null;  // the viewer's URL is dynamic
      if (!viewer) await page.waitForTimeout(100);
    }
    check(viewer !== null, `uid ${uid}: the extension's viewer frame is in the page`);
    if (shown) {
      let seen = false;
      for (let i = 0; i < 100 && !seen; i++) {
        for (const f of await extFrames()) {
          if (await f.evaluate((t) => document.body?.innerText.includes(t), shown).catch(() => false)) seen = true;
        }
        if (!seen) await page.waitForTimeout(100);
      }
      check(seen, `uid ${uid}: the extension's frame shows "${shown}"`);
    }
    const pageText = await page.content();
    if (uid === "4") {
      check(!pageText.includes("Hello HTML") && !pageText.includes("attachment bytes"), "the webmail page's own DOM never holds the decrypted text");
      await screenshot(page, "chromium-read-encrypted.png", "#smime-summary .smime-lock", [30, 123, 52]);
    }
    if (uid === "1") await screenshot(page, "chromium-read-signed.png", "#smime-summary .smime-seal", [212, 160, 23]);
    if (uid === "2") await screenshot(page, "chromium-read-tampered.png", "#smime-summary .smime-warn", [179, 38, 30]);
  }

  // --- open a 50 KB signed message: from navigation to the badge shown ---
  const opens = [];
  for (let i = 0; i < 3; i++) {
    const start = Date.now();
    await page.goto(`${ORIGIN}/?_task=mail&_mbox=INBOX&_uid=6&_action=show`);
    await page.waitForSelector("#smime-summary .smime-seal", {timeout: 60_000});
    opens.push(Date.now() - start);
  }
  opens.sort((a, b) => a - b);

  // --- the preview pane (a frame the extension does not enter) offers the full view ---
  await page.goto(`${ORIGIN}/?_task=mail&_mbox=INBOX&_uid=1&_action=preview&_framed=1`);
  await page.waitForSelector("#smime-open-full", {timeout: 20_000});
  check(!/not available/.test(await page.textContent("#smime-summary")), "the preview does not say the extension is missing");
  await Promise.all([page.waitForURL(/_action=show/, {timeout: 20_000}), page.click("#smime-open-full")]);
  await page.waitForSelector("#smime-summary .smime-seal", {timeout: 60_000});
  check(page.url().includes("_uid=1") && await page.isVisible("#smime-summary .smime-seal"),
    "the preview's button opens the full view, where the viewer shows the signed message");

  // --- an origin that was not granted gets no API ---
  const other = await context.newPage();
  await login(other, OTHER_ORIGIN);
  await other.goto(`${OTHER_ORIGIN}/?_task=mail&_mbox=INBOX&_uid=1&_action=show`);
  await other.waitForSelector("#smime-viewer[data-state]:not([data-state=loading])", {state: "attached", timeout: 20_000});
  check(await other.getAttribute("#smime-viewer", "data-state") === "unavailable" && await other.isVisible("#messagebody"),
    "on an origin that was not granted the plugin finds no extension and Roundcube shows the message itself");
  check(other.frames().every((f) => !f.url().startsWith("chrome-extension:")), "no extension frame on that page");
  const code = await other.evaluate(() => window.SmimeWebmail.connect({timeoutMs: 1000}).then(() => "connected", (e) => e.code));
  check(code === "ERR_NOT_GRANTED", `SmimeWebmail.connect there: ${code}`);

  console.log(`TIMING chromium roundcube: click Send to message at the SMTP sink, signed+encrypted: ` +
    `50 KB ${Math.round(small.ms)} ms; 10 MB ${Math.round(large.ms)} ms; open a 50 KB signed message to the badge shown: median of 3 ${opens[1]} ms`);
} catch (e) {
  check(false, `the test stopped: ${String(e.message).split("\n")[0]}`);
  for (const [i, p] of context.pages().entries()) {
    console.log(`page ${i}: ${p.url()}`);
    await p.screenshot({path: join(ARTIFACTS, `chromium-failure-${i}.png`), timeout: 5000}).catch((err) => console.log(String(err.message).split("\n")[0]));
  }
} finally {
  await context.close();
  tearDown(env);
  if (!process.env.SMIME_KEEP_WORK) rmSync(work, {recursive: true, force: true});
}
console.log(failures() ? `${failures()} check(s) failed` : "all roundcube chromium checks passed");
process.exit(failures() ? 1 : 0);
