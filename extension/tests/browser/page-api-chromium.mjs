// SPDX-License-Identifier: MIT
// The page API in headless Chromium with the built extension and the real host on a temporary key
// store: a test webmail on 127.0.0.1 gets no answer until the user allows its exact origin in the
// popup; then status, recipients, protect (sign; sign+encrypt with a Bcc copy, checked with
// openssl cms), inspect and open work; open shows the decrypted text only inside the extension's
// frame (the page's DOM never holds it; screenshots checked); another port of the same host gets
// no answer; an origin the managed policy pre-grants works without a grant; an origin it forbids
// gets nothing even though granted; revoking in the options page ends access.
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {ARTIFACTS, checker, ids, REPO, writeHostWrapper} from "./fixtures.mjs";
import {CHROMIUM, launchChromium, pixelOf} from "./launch.mjs";
import {grantedScenarios, SECRET, setUpPageApi} from "./page-api-fixtures.mjs";

const EXT = join(REPO, "extension/dist/chromium");
// Chromium reads managed policy (here: the extension's managed storage, policy "3rdparty") only
// from this system folder on Linux.
const POLICY_DIR = process.env.CHROMIUM_POLICY_DIR ?? "/etc/chromium/policies/managed";

const {check, failures} = checker();

if (!CHROMIUM) throw new Error("chromium is not installed (installer/deps.sh --test installs it)");
if (!existsSync(join(EXT, "manifest.json"))) throw new Error("build the extension first: npm run build");
mkdirSync(ARTIFACTS, {recursive: true});
const work = mkdtempSync(join(tmpdir(), "smime-page-api-chromium-"));
const {dataDir, remote, messages, notForMe, webmail} = await setUpPageApi(work);
const [granted, other, preGranted, forbidden] = webmail.origins;
mkdirSync(POLICY_DIR, {recursive: true});
const policyFile = join(POLICY_DIR, `smime-host-page-api-test-${process.pid}.json`);
writeFileSync(policyFile, JSON.stringify({"3rdparty": {extensions: {[ids.chromium_id]: {
  page_api_origins: [preGranted], page_api_forbidden_origins: [forbidden],
}}}}));

const context = await launchChromium(CHROMIUM, EXT, work, writeHostWrapper(work), ids.chromium_id, {viewport: {width: 1100, height: 800}});
const base = `chrome-extension://${ids.chromium_id}/pages`;
const run = (page) => (name, args = {}) => page.evaluate(([n, a]) => window.webmail.run(n, a), [name, args]);

try {
  const options = await context.newPage();
  await options.goto(`${base}/options.html`);
  await options.waitForSelector("body[data-state=ready]", {timeout: 30_000});

  // --- before the grant: nothing answers ---
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.log("page console:", m.text()); });
  await page.goto(granted + "/inbox");
  const before = await run(page)("connect", {timeoutMs: 1500});
  check(before.error?.code === "ERR_NOT_GRANTED", `before the grant: ${JSON.stringify(before)}`);

  // --- the grant, in the popup, for this tab's exact origin ---
  const tabId = await options.evaluate(async (origin) => (await chrome.tabs.query({})).find((t) => t.url?.startsWith(origin + "/"))?.id, granted);
  const popup = await context.newPage();
  await popup.goto(`${base}/popup.html?tab=${tabId}`);
  await popup.waitForSelector("#site[data-state=not_granted]");
  const allowText = await popup.locator("#site-allow").textContent();
  check(allowText === `Allow S/MIME for ${granted}`, `the popup asks for the exact origin: "${allowText}"`);
  await popup.setViewportSize({width: 360, height: 300});
  await popup.screenshot({path: join(ARTIFACTS, "page-api-popup-chromium.png")});
  await popup.click("#site-allow");
  await popup.waitForSelector("#site[data-state=granted]");
  check(await popup.locator("#site-status").textContent() === `S/MIME is allowed for ${granted}.`, "the popup says the site is allowed");
  await popup.close();

  // --- granted: every operation, without reloading the page ---
  await grantedScenarios(run(page), dataDir, messages, check);

  // --- open: plaintext only in the extension's frame ---
  const summary = await run(page)("open", {message: messages.secretMail});
  check(JSON.stringify(summary) === JSON.stringify({level: "signed+encrypted", verdict: "good", signer: {name: "bob", email: "bob@example.test"}, encrypted: true}),
    `open returns the summary only: ${JSON.stringify(summary)}`);
  // The viewer is web-accessible with use_dynamic_url: its host is a per-session id, not the extension's.
  const VIEWER = /^chrome-extension:\/\/[^/]+\/pages\/viewer\.html#/;
  const viewerFrame = async (not = null) => {
    for (let i = 0; i < 100; i++) {
      const f = page.frames().find((fr) => VIEWER.test(fr.url()) && fr !== not && !fr.isDetached());
      if (f) return f;
      await page.waitForTimeout(100);
    }
    throw new Error("no viewer frame");
  };
  let frame = await viewerFrame();
  await frame.waitForSelector("body[data-state=shown]", {timeout: 30_000});
  check(await frame.locator("#banner-headline").textContent() === "Signed and encrypted", "the viewer's banner says signed and encrypted");
  check(/bob/.test(await frame.locator(".signature").textContent()) && await frame.locator(".signature .verdict").textContent() === "Valid signature, signer trusted",
    "the viewer names the signer and the verdict in words");
  check((await frame.locator("#text-body").textContent()).includes(SECRET), "the decrypted text is shown inside the extension's frame");
  const pageView = await page.evaluate((secret) => ({
    html: window.webmail.html().includes(secret),
    text: document.body.innerText.includes(secret),
    frameReadable: (() => { try { return document.querySelector("#viewer iframe").contentDocument !== null; } catch { return false; } })(),
    src: document.querySelector("#viewer iframe")?.src ?? "",
  }), SECRET);
  check(!pageView.html && !pageView.text && (await page.content()).includes(SECRET) === false, "the page's DOM never contains the decrypted text");
  check(!pageView.frameReadable && VIEWER.test(pageView.src), "the page cannot read the viewer frame (another origin)");
  check(!pageView.src.startsWith(`${base}/`), `the viewer's URL is the dynamic one, not the extension's id: ${pageView.src.slice(0, 60)}`);
  await page.screenshot({path: join(ARTIFACTS, "page-api-viewer-chromium.png")});
  const box = await frame.locator("#banner").boundingBox();
  const png = readFileSync(join(ARTIFACTS, "page-api-viewer-chromium.png"));
  const pixel = await pixelOf(page, png, Math.round(box.x + 3), Math.round(box.y + box.height / 2));
  check(statSync(join(ARTIFACTS, "page-api-viewer-chromium.png")).size > 15_000 && pixel.every((v, i) => Math.abs(v - [30, 123, 52][i]) <= 12),
    `screenshot saved; the banner in the frame is green (${pixel})`);

  const failed = await run(page)("open", {message: notForMe});
  check(failed.error?.code === "ERR_DECRYPT_FAILED", `a message not for me: rejects with the host's code ${JSON.stringify(failed.error)}`);
  frame = await viewerFrame(frame);
  await frame.waitForSelector("body[data-state=error]", {timeout: 30_000});
  const said = await frame.locator("#error").textContent();
  check(said.length > 10 && !/ERR_/.test(said), `the viewer frame says so in words: "${said}"`);
  await page.screenshot({path: join(ARTIFACTS, "page-api-viewer-error-chromium.png")});

  // --- after 3 failed decryptions the origin may open no encrypted message (no padding oracle) ---
  const codes = [];
  for (let i = 0; i < 3; i++) codes.push((await run(page)("open", {message: notForMe})).error?.code);
  const refused = await run(page)("open", {message: messages.secretMail});
  check(codes.join() === "ERR_DECRYPT_FAILED,ERR_DECRYPT_FAILED,ERR_THROTTLED" && refused.error?.code === "ERR_THROTTLED",
    `the fourth failure and then a good message are refused: ${codes}, ${refused.error?.code}`);
  // Each open replaces the viewer frame; the one found first may be replaced by a later open.
  for (let attempt = 0; ; attempt++) {
    frame = await viewerFrame(frame);
    try {
      await frame.waitForSelector("body[data-state=error]", {timeout: 30_000});
      break;
    } catch (error) {
      if (attempt >= 3 || !frame.isDetached()) throw error;
    }
  }
  const budget = await frame.locator("#error").textContent();
  check(/allow it again/.test(budget) && !/ERR_/.test(budget), `the viewer says why and how it comes back: "${budget}"`);

  // --- another port of the same host: not granted ---
  const page2 = await context.newPage();
  await page2.goto(other + "/inbox");
  const otherPort = await run(page2)("connect", {timeoutMs: 1500});
  check(otherPort.error?.code === "ERR_NOT_GRANTED", `another port of 127.0.0.1 gets no answer: ${JSON.stringify(otherPort)}`);

  // --- managed policy: pre-granted works, forbidden gets nothing even when granted ---
  await page2.goto(preGranted + "/inbox");
  const pre = await run(page2)("connect", {timeoutMs: 3000});
  const preStatus = pre.error ? pre : await run(page2)("status");
  check(!pre.error && preStatus.senders?.[0] === "alice@example.test", `an origin the policy pre-grants works: ${JSON.stringify(preStatus)}`);
  await options.evaluate(async ([a, f]) => chrome.storage.local.set({page_api_grants: [a, f]}), [granted, forbidden]);
  await page2.goto(forbidden + "/inbox");
  const forb = await run(page2)("connect", {timeoutMs: 1500});
  check(forb.error?.code === "ERR_NOT_GRANTED", `an origin the policy forbids gets nothing though granted: ${JSON.stringify(forb)}`);

  // --- the options page lists the grants; revoking ends access ---
  await options.reload();
  await options.waitForSelector("body[data-state=ready]", {timeout: 30_000});
  const listed = await options.evaluate(() => [...document.querySelectorAll("#grants li.grant")].map((li) =>
    `${li.dataset.origin} ${li.dataset.source} ${li.dataset.forbidden} ${li.querySelector(".meta").textContent}`));
  check(listed.includes(`${granted} user false Allowed by you.`) && listed.includes(`${preGranted} policy false Allowed by your organisation.`) &&
    listed.includes(`${forbidden} user true Forbidden by your organisation.`), `options lists the grants: ${JSON.stringify(listed)}`);
  await options.locator("#h-sites").scrollIntoViewIfNeeded();
  await options.screenshot({path: join(ARTIFACTS, "page-api-options-chromium.png")});
  await options.click(`#grants li[data-origin="${granted}"] button.revoke`);
  await options.waitForFunction((o) => !document.querySelector(`#grants li[data-origin="${o}"]`), granted);
  await page.reload();
  const revoked = await run(page)("connect", {timeoutMs: 1500});
  check(revoked.error?.code === "ERR_NOT_GRANTED", `after revoking, the page gets no answer: ${JSON.stringify(revoked)}`);
} finally {
  await context.close().catch(() => undefined);
  rmSync(policyFile, {force: true});
  webmail.close();
  remote.close();
  if (!process.env.SMIME_KEEP_WORK) rmSync(work, {recursive: true, force: true});
}
console.log(failures() ? `${failures()} check(s) failed` : "all page API checks passed in chromium");
process.exit(failures() ? 1 : 0);
