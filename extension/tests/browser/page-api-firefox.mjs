// SPDX-License-Identifier: MIT
// The page API in headless Firefox ESR (Marionette) with the built add-on and the real host on a
// temporary key store, the same checks as page-api-chromium.mjs: no answer before the user allows
// the exact origin in the popup; then status, recipients, protect, inspect and open on a test
// webmail on 127.0.0.1; the decrypted text only inside the extension's frame; another port, and
// an origin the managed storage forbids, get nothing; a pre-granted origin works; revoking ends
// access. Managed storage comes from the per-user managed-storage manifest Firefox reads.
import {readFileSync, rmSync, statSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {ARTIFACTS, checker, ids, REPO, writeHostWrapper} from "./fixtures.mjs";
import {FIREFOX, firefoxTestSetup, installAddon, mozillaHome, startFirefox, stopBrowser} from "./launch.mjs";
import {Marionette} from "./marionette.mjs";
import {grantedScenarios, pngPixel, SECRET, setUpPageApi} from "./page-api-fixtures.mjs";

const XPI = join(REPO, "extension/dist/smime-host-firefox.xpi");
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

const {check, failures} = checker();

const work = firefoxTestSetup(XPI, ARTIFACTS, "smime-page-api-firefox-");
const {dataDir, remote, messages, notForMe, webmail} = await setUpPageApi(work);
const [granted, other, preGranted, forbidden] = webmail.origins;

// HOME for Firefox: the host manifest, and the managed storage of the add-on (what an
// administrator's policies.json "3rdparty" section or this manifest provides).
const home = mozillaHome(work, writeHostWrapper(work), ids.firefox_id, {
  description: "test policy", data: {page_api_origins: [preGranted], page_api_forbidden_origins: [forbidden]},
});
const {firefox, port} = await startFirefox(FIREFOX, work, home, {width: 1100, height: 800});

let m;
/** Runs an async function body in the current document; `args` is its argument. */
async function page(body, args = {}) {
  const script = `const args = arguments[0]; const resolve = arguments[arguments.length - 1];
    const win = window.wrappedJSObject || window;
    const until = async (f, ms = 30000) => { const end = Date.now() + ms;
      for (;;) { const v = f(); if (v) return v; if (Date.now() > end) throw new Error("timed out: " + f); await new Promise((r) => setTimeout(r, 50)); } };
    (async () => { ${body} })().then((v) => resolve(JSON.parse(JSON.stringify(v ?? null))), (e) => resolve({failed: String(e && e.message || e)}));`;
  const r = await m.run(script, [args], 120_000);
  if (r && typeof r === "object" && "failed" in r) throw new Error(r.failed);
  return r;
}
const run = (name, args = {}) => page("return await win.webmail.run(args.name, args.args);", {name, args});
const navigate = (url) => m.command("WebDriver:Navigate", {url});
const shot = async (name) => {
  const {value} = await m.command("WebDriver:TakeScreenshot", {full: false});
  writeFileSync(join(ARTIFACTS, name), Buffer.from(value, "base64"));
  return statSync(join(ARTIFACTS, name)).size;
};

try {
  m = await Marionette.open(port);
  const host = await installAddon(m, XPI, ids.firefox_id);
  const base = `moz-extension://${host}/pages`;

  // Two tabs: the webmail, and one for the extension's pages.
  const {value: mailTab} = await m.command("WebDriver:GetWindowHandle");
  const {handle: extTab} = await m.command("WebDriver:NewWindow", {type: "tab"});
  const toMail = () => m.command("WebDriver:SwitchToWindow", {handle: mailTab});
  const toExt = () => m.command("WebDriver:SwitchToWindow", {handle: extTab});

  await toMail();
  await navigate(granted + "/inbox");
  const before = await run("connect", {timeoutMs: 1500});
  check(before.error?.code === "ERR_NOT_GRANTED", `before the grant: ${JSON.stringify(before)}`);

  await toExt();
  await navigate(`${base}/options.html`);
  const tabId = await page(`const b = win.browser; return (await b.tabs.query({})).find((t) => (t.url || "").startsWith(args.origin + "/"))?.id;`, {origin: granted});
  await navigate(`${base}/popup.html?tab=${tabId}`);
  const popup = await page(`await until(() => document.querySelector("#site[data-state=not_granted]"));
    const text = document.querySelector("#site-allow").textContent; document.querySelector("#site-allow").click();
    await until(() => document.querySelector("#site[data-state=granted]"));
    return {text, status: document.querySelector("#site-status").textContent};`);
  check(popup.text === `Allow S/MIME for ${granted}` && popup.status === `S/MIME is allowed for ${granted}.`, `popup grant for the exact origin: ${JSON.stringify(popup)}`);

  // Firefox reloads the tab the grant was made for; the page then has the API.
  await toMail();
  await page(`await until(() => document.readyState === "complete" && win.webmail); return true;`);
  await grantedScenarios(run, dataDir, messages, check);

  const summary = await run("open", {message: messages.secretMail});
  check(JSON.stringify(summary) === JSON.stringify({level: "signed+encrypted", verdict: "good", signer: {name: "bob", email: "bob@example.test"}, encrypted: true}),
    `open returns the summary only: ${JSON.stringify(summary)}`);
  const pageView = await page(`await new Promise((r) => setTimeout(r, 500));
    const f = document.querySelector("#viewer iframe");
    let readable = false; try { readable = f.contentDocument !== null; } catch { readable = false; }
    return {html: document.documentElement.outerHTML.includes(args.secret), text: document.body.innerText.includes(args.secret), readable, src: f ? f.src : ""};`, {secret: SECRET});
  check(!pageView.html && !pageView.text, "the page's DOM never contains the decrypted text");
  check(!pageView.readable && pageView.src.startsWith(`${base}/viewer.html#`), `the page cannot read the viewer frame (${pageView.src.slice(0, 40)})`);
  const inFrame = async (body) => {
    const {value} = await m.command("WebDriver:FindElement", {using: "css selector", value: "#viewer iframe"});
    await m.command("WebDriver:SwitchToFrame", {element: value[ELEMENT] ?? value});
    try {
      return await page(body);
    } finally {
      await m.command("WebDriver:SwitchToParentFrame");
    }
  };
  const shown = await inFrame(`await until(() => ["shown", "error"].includes(document.body.dataset.state));
    return {state: document.body.dataset.state, headline: document.querySelector("#banner-headline")?.textContent,
      verdict: document.querySelector(".signature .verdict")?.textContent, text: document.querySelector("#text-body")?.textContent ?? ""};`);
  check(shown.state === "shown" && shown.headline === "Signed and encrypted" && shown.verdict === "Valid signature, signer trusted",
    `the viewer frame shows the banner: ${shown.headline} / ${shown.verdict}`);
  check(shown.text.includes(SECRET), "the decrypted text is shown inside the extension's frame");
  check(await shot("page-api-viewer-firefox.png") > 15_000, "viewer screenshot saved");
  // Where the banner's coloured border is on the screen: the frame's place in the page plus the
  // banner's place in the frame.
  const outer = await page(`const r = document.querySelector("#viewer iframe").getBoundingClientRect(); return {x: r.x, y: r.y};`);
  const inner = await inFrame(`const r = document.querySelector("#banner").getBoundingClientRect(); return {x: r.x, y: r.y, h: r.height};`);
  const pixel = pngPixel(readFileSync(join(ARTIFACTS, "page-api-viewer-firefox.png")), Math.round(outer.x + inner.x + 3), Math.round(outer.y + inner.y + inner.h / 2));
  check(pixel.every((v, i) => Math.abs(v - [30, 123, 52][i]) <= 12), `the screenshot shows the frame's banner in green (${pixel})`);

  const failed = await run("open", {message: notForMe});
  check(failed.error?.code === "ERR_DECRYPT_FAILED", `a message not for me: the host's code ${JSON.stringify(failed.error)}`);
  const said = await inFrame(`await until(() => document.body.dataset.state === "error"); return document.querySelector("#error").textContent;`);
  check(said.length > 10 && !/ERR_/.test(said), `the viewer frame says so in words: "${said}"`);
  await shot("page-api-viewer-error-firefox.png");

  await navigate(other + "/inbox");
  const otherPort = await run("connect", {timeoutMs: 1500});
  check(otherPort.error?.code === "ERR_NOT_GRANTED", `another port of 127.0.0.1 gets no answer: ${JSON.stringify(otherPort)}`);
  await navigate(preGranted + "/inbox");
  const pre = await run("connect", {timeoutMs: 3000});
  const preStatus = pre.error ? pre : await run("status");
  check(!pre.error && preStatus.senders?.[0] === "alice@example.test", `an origin the policy pre-grants works: ${JSON.stringify(preStatus)}`);

  await toExt();
  await navigate(`${base}/options.html`);
  await page(`await win.browser.storage.local.set({page_api_grants: [args.a, args.f]}); return true;`, {a: granted, f: forbidden});
  await toMail();
  await navigate(forbidden + "/inbox");
  const forb = await run("connect", {timeoutMs: 1500});
  check(forb.error?.code === "ERR_NOT_GRANTED", `an origin the policy forbids gets nothing though granted: ${JSON.stringify(forb)}`);

  await toExt();
  await navigate(`${base}/options.html`);
  const listed = await page(`await until(() => document.body.dataset.state === "ready");
    const items = () => [...document.querySelectorAll("#grants li.grant")];
    const list = items().map((li) => li.dataset.origin + " " + li.dataset.source + " " + li.dataset.forbidden + " " + li.querySelector(".meta").textContent);
    document.querySelector('#grants li[data-origin="' + args.a + '"] button.revoke').click();
    await until(() => !document.querySelector('#grants li[data-origin="' + args.a + '"]'));
    return list;`, {a: granted});
  check(listed.includes(`${granted} user false Allowed by you.`) && listed.includes(`${preGranted} policy false Allowed by your organisation.`) &&
    listed.includes(`${forbidden} user true Forbidden by your organisation.`), `options lists the grants: ${JSON.stringify(listed)}`);
  await toMail();
  await navigate(granted + "/inbox");
  const revoked = await run("connect", {timeoutMs: 1500});
  check(revoked.error?.code === "ERR_NOT_GRANTED", `after revoking, the page gets no answer: ${JSON.stringify(revoked)}`);
} finally {
  stopBrowser(m, firefox);
  webmail.close();
  remote.close();
  if (!process.env.SMIME_KEEP_WORK) setTimeout(() => rmSync(work, {recursive: true, force: true}), 1000);
}
console.log(failures() ? `${failures()} check(s) failed` : "all page API checks passed in firefox");
setTimeout(() => process.exit(failures() ? 1 : 0), 1500);
