// SPDX-License-Identifier: MIT
// The Thunderbird add-on in headless Thunderbird with a fresh profile, the add-on sideloaded, the
// real host on a temporary key store and an SMTP sink on loopback, driven over Marionette in
// chrome context: messages (made by openssl at test time, and one from Thunderbird's own test
// corpus) are stored in a local folder and displayed; the banner and the message display action
// are checked for good, tampered, untrusted and encrypted mail; the encrypted one opens decrypted
// in the reader; the signers' certificates are in the store afterwards. Then a message with sign
// and encrypt on, an attachment and a Bcc recipient is sent with the Send command: the bytes at the
// sink decrypt and verify with openssl cms and gpgsm, the Sent copy matches, the Bcc recipient got
// a copy of their own; a recipient without a certificate stops an encrypted send with the reason
// in words; an autosaved draft is gone after sending; a reply is encrypted by default, keeps
// In-Reply-To and References and marks the original replied. A second Thunderbird with Experiments off
// still shows verdicts and says why protected sending is unavailable. Screenshots go to the
// artifacts folder; prints the click-to-sink times.
import {execFileSync, spawn, spawnSync} from "node:child_process";
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {randomBytes} from "node:crypto";
import {makeFixtures, P12_PASSWORD, REPO, writeHostWrapper} from "../../extension/tests/browser/fixtures.mjs";
import {hostBinary} from "../../extension/tests/framed-host.mjs";
import {freePort, mozillaHome, stopBrowser, writeUserPrefs} from "../../extension/tests/browser/launch.mjs";
import {Marionette} from "../../extension/tests/browser/marionette.mjs";
import {startSmtpSink} from "./smtp-sink.mjs";

const ids = JSON.parse(readFileSync(join(REPO, "extension/ids.json"), "utf8"));
const XPI = join(REPO, "extension/dist/smime-host-thunderbird.xpi");
const ARTIFACTS = process.env.SMIME_THUNDERBIRD_ARTIFACTS ?? join(REPO, "build/thunderbird-artifacts");
const THUNDERBIRD = process.env.THUNDERBIRD ?? ["/usr/bin/thunderbird"].find(existsSync);
const CORPUS_SIGNED = join(REPO, "tests/data/thunderbird/mailnews/test/data/smime/alice.dsig.SHA256.multipart.eml");

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}`);
  if (!ok) failures++;
}

if (!THUNDERBIRD) throw new Error("thunderbird is not installed (installer/deps.sh --test installs it)");
if (!existsSync(XPI)) throw new Error("build the extension first: npm run build");
mkdirSync(ARTIFACTS, {recursive: true});
const work = mkdtempSync(join(tmpdir(), "smime-thunderbird-"));
const data = makeFixtures(join(work, "data"), "http://127.0.0.1:9");
const pki = join(work, "data", "pki");
const sink = await startSmtpSink();

// The key store: alice's identity and the test root as a trust anchor, through the host's CLI.
const store = join(work, "store");
const host = (args) => execFileSync(hostBinary(), args, {env: {...process.env, SMIME_HOST_HOME: store, P12_PASSWORD}}).toString();
mkdirSync(store, {mode: 0o700});
host(["identities.import", "--in", join(pki, "alice.p12"), "--password-env", "P12_PASSWORD"]);
host(["certificates.import", "--certificate", "@" + join(pki, "root.pem"), "--trust-anchor"]);

// HOME with the host manifest; the profile with the add-on, a local account and the SMTP sink.
const home = mozillaHome(work, writeHostWrapper(work), ids.thunderbird_id);
mkdirSync(join(work, "tmp"));
let tbLog = "";

/** A fresh profile with the add-on sideloaded, a local account and the sink as SMTP server. */
async function makeProfile(name, extraPrefs = {}) {
  const marionettePort = await freePort();
  const profile = join(work, name);
  mkdirSync(join(profile, "extensions"), {recursive: true});
  writeFileSync(join(profile, "extensions", `${ids.thunderbird_id}.xpi`), readFileSync(XPI));
  const prefs = {
    "marionette.port": marionettePort, "extensions.autoDisableScopes": 0, "xpinstall.signatures.required": false,
    "extensions.experiments.enabled": true, "mailnews.start_page.enabled": false, "mail.shell.checkDefaultClient": false,
    "mail.rights.version": 1, "datareporting.policy.dataSubmissionEnabled": false, "app.update.enabled": false,
    "mail.provider.enabled": false, "mail.winsearch.firstRunDone": true, "mailnews.auto_config.fetchFromISP.enabled": false,
    "mail.accountmanager.accounts": "account1", "mail.accountmanager.defaultaccount": "account1",
    "mail.accountmanager.localfoldersserver": "server1",
    "mail.account.account1.server": "server1", "mail.account.account1.identities": "id1",
    "mail.server.server1.type": "none", "mail.server.server1.hostname": "Local Folders", "mail.server.server1.userName": "nobody",
    "mail.server.server1.name": "Local Folders",
    "mail.identity.id1.fullName": "Alice", "mail.identity.id1.useremail": "alice@example.test", "mail.identity.id1.smtpServer": "smtp1",
    "mail.identity.id1.valid": true, "mail.identity.id1.fcc": true, "mail.identity.id1.compose_html": true,
    "mail.identity.id1.fcc_folder": "mailbox://nobody@Local%20Folders/Sent",
    "mail.identity.id1.draft_folder": "mailbox://nobody@Local%20Folders/Drafts",
    "mail.smtpservers": "smtp1", "mail.smtp.defaultserver": "smtp1",
    "mail.smtpserver.smtp1.type": "smtp", "mail.smtpserver.smtp1.hostname": "127.0.0.1", "mail.smtpserver.smtp1.port": sink.port,
    "mail.smtpserver.smtp1.authMethod": 1, "mail.smtpserver.smtp1.try_ssl": 0, "mail.smtpserver.smtp1.username": "",
    ...extraPrefs,
  };
  writeUserPrefs(profile, Object.entries(prefs));
  return {profile, marionettePort};
}

function launch(profile) {
  const child = spawn(THUNDERBIRD, ["--headless", "--marionette", "-remote-allow-system-access", "--no-remote", "--profile", profile],
    {env: {...process.env, HOME: home, TMPDIR: join(work, "tmp"), MOZ_HEADLESS_WIDTH: "1280", MOZ_HEADLESS_HEIGHT: "900"},
      stdio: ["ignore", "pipe", "pipe"], detached: true});
  child.stdout.on("data", (d) => (tbLog += d));
  child.stderr.on("data", (d) => (tbLog += d));
  return child;
}

const {profile, marionettePort} = await makeProfile("profile");
let tb = launch(profile);

// Helpers every chrome script gets.
const PRELUDE = `
const {MailServices} = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
const win = Services.wm.getMostRecentWindow("mail:3pane");
const ext = WebExtensionPolicy.getByID(${JSON.stringify(ids.thunderbird_id)})?.extension;
async function until(f, ms = 60000, what = "") {
  const end = Date.now() + ms;
  for (;;) { const v = await f(); if (v) return v; if (Date.now() > end) throw new Error("timed out: " + (what || f)); await new Promise((r) => setTimeout(r, 100)); }
}
function testFolder() {
  const root = MailServices.accounts.localFoldersServer.rootFolder;
  if (!root.containsChildNamed("Tests")) root.createSubfolder("Tests", null);
  return root.getChildNamed("Tests");
}
// The add-on's pages run in the extension process: Marionette's own window actor runs this there
// (it clicks the given selectors, then returns the data-state and the text or properties asked for).
const PAGE_SCRIPT = ${JSON.stringify(`const data = arguments[0];
  for (const selector of data.click ?? []) document.querySelector(selector)?.click();
  const one = {}, all = {}, props = {};
  for (const [k, s] of Object.entries(data.one ?? {})) one[k] = document.querySelector(s)?.textContent ?? null;
  for (const [k, s] of Object.entries(data.all ?? {})) all[k] = [...document.querySelectorAll(s)].map((e) => e.textContent);
  for (const [k, [s, p]] of Object.entries(data.props ?? {})) props[k] = document.querySelector(s)?.[p] ?? null;
  return {url: document.URL, state: document.body?.dataset.state ?? null, one, all, props};`)};
async function page(browser, query) {
  const actor = browser.browsingContext.currentWindowGlobal.getActor("MarionetteCommands");
  return actor.executeScript(PAGE_SCRIPT, [query], {timeout: 10000});
}
async function pageUntil(browser, query, test, ms = 30000, what = "") {
  let last;
  await until(async () => { try { last = await page(browser, query); } catch (e) { last = {error: String(e)}; } return test(last); }, ms, what + " " + JSON.stringify(last));
  return last;
}
async function shot(w) {
  const bitmap = await w.browsingContext.currentWindowGlobal.drawSnapshot(new w.DOMRect(0, 0, w.innerWidth, w.innerHeight), 1, "white");
  const canvas = w.document.createElementNS("http://www.w3.org/1999/xhtml", "canvas");
  canvas.width = bitmap.width; canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  return canvas.toDataURL("image/png").split(",")[1];
}
function readFolderMessage(folder, hdr) {
  const stream = folder.getMsgInputStream(hdr, {});
  const bin = Cc["@mozilla.org/binaryinputstream;1"].createInstance(Ci.nsIBinaryInputStream);
  bin.setInputStream(stream);
  let out = "";
  for (let n; (n = bin.available()) > 0;) out += bin.readBytes(n);
  stream.close();
  return out;
}
`;
let m;
async function chrome(body, args = {}, timeout = 180_000) {
  const script = `const args = arguments[0]; const resolve = arguments[arguments.length - 1]; ${PRELUDE}
    (async () => { ${body} })().then(resolve, (e) => resolve({error: String(e && e.message || e) + " " + (e && e.stack || "")}));`;
  const r = await m.run(script, [args], timeout);
  if (r && typeof r === "object" && "error" in r && Object.keys(r).length === 1) throw new Error(r.error);
  return r;
}
const save = (name, b64) => {
  const buf = Buffer.from(b64, "base64");
  writeFileSync(join(ARTIFACTS, name), buf);
  return buf;
};
const openssl = (args, input) => execFileSync("openssl", args, {input, env: {...process.env, OPENSSL_CONF: "/dev/null"}, maxBuffer: 1 << 30});
const headerEnd = (s) => s.indexOf("\r\n\r\n");

try {
  m = await Marionette.open(marionettePort, 300);
  await m.command("WebDriver:NewSession", {capabilities: {}});
  await m.command("Marionette:SetContext", {value: "chrome"});
  const started = await chrome(`await until(() => win && win.gTabmail && ext && ext.backgroundState === "running" || (ext && ext.views && [...ext.views].some((v) => v.viewType === "background")), 60000, "add-on background");
    await new Promise((r) => setTimeout(r, 1000));
    return {uuid: ext.uuid, experiment: !!ext.manifest.experiment_apis};`);
  check(!!started.uuid, `the add-on ${ids.thunderbird_id} is running (experiment in manifest: ${started.experiment})`);
  const base = `moz-extension://${started.uuid}`;

  // --- reading ---
  const corpusSigned = readFileSync(CORPUS_SIGNED, "latin1");
  const messages = {
    signed: readFileSync(data.files.signed, "latin1"), tampered: readFileSync(data.files.tampered, "latin1"),
    untrusted: readFileSync(data.files.untrusted, "latin1"), corpus: corpusSigned, encrypted: readFileSync(data.files.encrypted, "latin1"),
  };
  const display = (name, raw) => chrome(`
    const folder = testFolder();
    const hdr = folder.QueryInterface(Ci.nsIMsgLocalMailFolder).addMessage(args.raw);
    win.gTabmail.switchToTab(0);
    const about3Pane = win.gTabmail.currentAbout3Pane;
    about3Pane.displayFolder(folder.URI);
    const aboutMessage = about3Pane.messageBrowser.contentWindow;
    const oldDoc = aboutMessage.getMessagePaneBrowser?.()?.contentDocument;
    const oldButton = aboutMessage.document.querySelector('[id$="-messageDisplayAction-toolbarbutton"]');
    const oldTitle = oldButton?.getAttribute("tooltiptext") || oldButton?.getAttribute("label");
    about3Pane.selectMessage(hdr);
    if (args.encrypted) {
      const tab = await until(() => win.gTabmail.tabInfo.find((t) => t.browser?.currentURI?.spec.includes("reader.html")), 30000, "reader tab");
      const q = await pageUntil(tab.browser, {one: {error: "#error", headline: "#banner-headline", attachments: "#attachments"},
        props: {html: ["#html-body", "srcdoc"]}},
        (x) => ["shown", "error"].includes(x.state), 30000, "reader shows");
      const r = {reader: true, state: q.state, ...q.one, body: q.props.html};
      r.shot = await shot(win);
      win.gTabmail.closeTab(tab);
      return r;
    }
    const banner = await until(() => {
      const doc = aboutMessage.getMessagePaneBrowser()?.contentDocument;
      // The add-on's banner is the one with a (closed) shadow root; a message may imitate the rest.
      const host = aboutMessage.gMessage?.messageKey === hdr.messageKey && doc !== oldDoc &&
        [...(doc?.querySelectorAll("#smime-host-banner") ?? [])].find((h) => h.openOrClosedShadowRoot);
      return host && host.openOrClosedShadowRoot.querySelector(".smime-banner");
    }, 30000, "banner");
    const bannerHost = banner.getRootNode().host;
    const visible = bannerHost.ownerDocument.defaultView.getComputedStyle(bannerHost).display !== "none" && bannerHost.getBoundingClientRect().height > 20;
    const button = await until(() => {
      const b = aboutMessage.document.querySelector('[id$="-messageDisplayAction-toolbarbutton"]');
      const title = b?.getAttribute("tooltiptext") || b?.getAttribute("label");
      return b && b.getAttribute("badge") && title !== oldTitle && title !== "S/MIME for webmail" && b;
    }, 15000, "action badge");
    return {headline: banner.querySelector(".smime-headline")?.textContent, tone: banner.dataset.tone,
      signatures: [...banner.querySelectorAll(".smime-signature")].map((e) => e.textContent),
      whose: banner.querySelector(".smime-whose")?.textContent, visible, closed: bannerHost.shadowRoot === null,
      badge: button.getAttribute("badge"), title: button.getAttribute("tooltiptext") || button.getAttribute("label"),
      shot: args.shot ? await shot(win) : null};`, {raw, encrypted: name === "encrypted", shot: name === "signed"});

  const expect = {
    signed: ["Signed", "good", "✓", "Valid signature, signer trusted"],
    tampered: ["Signed", "bad", "✗", "Content changed after signing, or the signature cannot be checked"],
    untrusted: ["Signed", "warning", "!", "Signer not trusted"],
  };
  for (const [name, [headline, tone, badge, verdict]] of Object.entries(expect)) {
    const r = await display(name, messages[name]);
    check(r.headline === headline && r.tone === tone && r.signatures.length === 1 && r.signatures[0].endsWith(verdict),
      `${name}: banner "${r.headline}" (${r.tone}): ${r.signatures.join("; ")}`);
    check(r.badge === badge && r.title.includes(verdict), `${name}: display action badge "${r.badge}", title "${r.title.replace(/\n/g, " | ")}"`);
    check(/add-on/.test(r.whose ?? ""), `${name}: the banner says whose verdict it is ("${r.whose}")`);
    if (r.shot) {
      const png = save("thunderbird-banner-signed.png", r.shot);
      check(png.length > 30_000, `thunderbird-banner-signed.png saved (${png.length} bytes)`);
    }
  }
  // A message whose own CSS hides the banner and whose body draws a fake "good" one: the real
  // banner (closed shadow root, inline style) still shows the expired certificate's verdict.
  const hostileHtml = "Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>#smime-host-banner, .smime-banner, " +
    "body > div:first-child { display: none !important; }</style></head><body><div id=\"smime-host-banner\" class=\"smime-banner tone-good\">" +
    "<strong class=\"smime-headline\">Signed</strong></div><p>Trust me.</p></body></html>\r\n";
  const hostile = "From: carol@example.test\r\nTo: alice@example.test\r\nSubject: Hides the banner\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n" +
    `Message-ID: <${randomBytes(6).toString("hex")}@example.test>\r\n` +
    openssl(["cms", "-sign", "-signer", join(pki, "carol.pem"), "-inkey", join(pki, "carol.key"), "-certfile", join(pki, "intermediate.pem"),
      "-md", "sha256", "-crlfeol"], hostileHtml).toString("latin1");
  const h = await display("hostile", hostile);
  check(h.visible && h.closed && h.tone !== "good" && h.badge === {warning: "!", bad: "✗"}[h.tone] && h.signatures.length === 1,
    `a message's CSS cannot hide or restyle the banner: visible ${h.visible}, closed shadow root ${h.closed}, "${h.headline}" (${h.tone}), badge "${h.badge}"`);
  const corpus = await display("corpus", messages.corpus);
  check(corpus.headline === "Signed" && /alice@example\.com/i.test(corpus.signatures[0] ?? ""),
    `Thunderbird corpus message: banner "${corpus.headline}": ${corpus.signatures.join("; ")}`);
  const enc = await display("encrypted", messages.encrypted);
  check(enc.state === "shown", `the reader shows the encrypted message (${enc.state} ${enc.error ?? ""})`);
  check(enc.reader && enc.headline === "Encrypted" && /Hello HTML/.test(enc.body ?? "") && /notes\.txt/.test(enc.attachments ?? ""),
    `encrypted (Thunderbird cannot decrypt): opened decrypted in the reader ("${enc.headline}", body and attachment shown)`);
  save("thunderbird-reader-encrypted.png", enc.shot);
  // The test folder holds the message as received (encrypted); nothing else may hold its plaintext.
  const grep = spawnSync("grep", ["-rl", "Hello HTML", join(work, "tmp"), profile], {encoding: "utf8"});
  const plaintextFiles = grep.stdout.trim().split("\n").filter(Boolean);
  check(plaintextFiles.length === 0, `no decrypted plaintext written to disk (${plaintextFiles.join(", ") || "none"})`);

  const learnt = (email) => JSON.parse(host(["certificates.list", "--email", email, "--json"])).result.certificates;
  for (const email of ["bob@example.test", "mallory@example.test", "alice@example.com"]) {
    const certs = learnt(email);
    check(certs.some((c) => c.source === "harvested"), `the signer ${email} is in the store after reading (${certs.map((c) => c.source).join(", ")})`);
  }

  // --- compose and send ---
  const attachment = join(work, "notes.txt");
  writeFileSync(attachment, "attachment bytes for the send test\n");
  const compose = (a) => chrome(`
    const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
    fields.to = args.to; fields.bcc = args.bcc; fields.subject = args.subject; fields.body = args.body;
    const file = Cc["@mozilla.org/file/local;1"].createInstance(Ci.nsIFile); file.initWithPath(args.attachment);
    const att = Cc["@mozilla.org/messengercompose/attachment;1"].createInstance(Ci.nsIMsgAttachment);
    att.url = Services.io.newFileURI(file).spec; att.name = args.attachmentName; fields.addAttachment(att);
    const params = Cc["@mozilla.org/messengercompose/composeparams;1"].createInstance(Ci.nsIMsgComposeParams);
    params.type = Ci.nsIMsgCompType.New; params.format = Ci.nsIMsgCompFormat.HTML;
    params.identity = MailServices.accounts.allIdentities[0]; params.composeFields = fields;
    const before = new Set(Services.wm.getEnumerator("msgcompose"));
    MailServices.compose.OpenComposeWindowWithParams(null, params);
    const cw = await until(() => [...Services.wm.getEnumerator("msgcompose")].find((w) => !before.has(w) && w.gMsgCompose && w.gLoadingComplete !== false && w.GetCurrentEditor?.()), 30000, "compose window");
    await new Promise((r) => setTimeout(r, 1500));
    const tabId = ext.tabManager.getWrapper(cw).id;
    // The toggles, in the same page as the compose action popup, opened in a tab for this compose window.
    const tab = win.gTabmail.openTab("contentTab", {url: args.base + "/pages/compose.html?tab=" + tabId});
    const query = {all: {recipients: ".recipient"}, one: {unavailable: "#unavailable"},
      props: {sign: ["#sign", "checked"], encrypt: ["#encrypt", "checked"], disabled: ["#sign", "disabled"]}};
    const listed = await pageUntil(tab.browser, query, (x) => x.state === "ready" && x.all.recipients.length === args.recipients, 30000, "compose page");
    if (args.expectDisabled) {
      win.gTabmail.closeTab(tab);
      return {tabId, canSend: !listed.props.disabled, unavailable: listed.one.unavailable};
    }
    await page(tab.browser, {click: [...(listed.props.sign ? [] : ["#sign"]), ...(listed.props.encrypt ? [] : ["#encrypt"])]});
    const on = await pageUntil(tab.browser, query, (x) => x.props.sign && x.props.encrypt, 10000, "toggles on");
    await new Promise((r) => setTimeout(r, 1500));
    const r = {tabId, recipients: on.all.recipients, canSend: !on.props.disabled};
    if (args.shot) r.shot = await shot(win);
    win.gTabmail.closeTab(tab);
    await new Promise((r) => setTimeout(r, 1200));
    const button = cw.document.querySelector('[id$="-composeAction-toolbarbutton"]');
    r.badge = button?.getAttribute("badge");
    if (args.shot) r.composeShot = await shot(cw);
    return r;`, a);
  const send = () => chrome(`
    const cw = [...Services.wm.getEnumerator("msgcompose")].pop();
    cw.goDoCommand("cmd_sendNow");
    return true;`);
  const waitClosed = () => chrome(`await until(() => ![...Services.wm.getEnumerator("msgcompose")].some((w) => !w.closed), 60000, "compose window closes"); return true;`);

  // A recipient without a certificate: with encryption on, the message is not sent and the compose
  // window stays open with the reason in words.
  const refused = await compose({to: "nobody@example.test", bcc: "", subject: "No key", base, body: "<p>secret</p>", attachment,
    attachmentName: "notes.txt", recipients: 1, shot: false});
  check(/no certificate/.test(refused.recipients[0] ?? ""), `a recipient without a certificate is listed so (${refused.recipients[0]})`);
  await send();
  // A refused send: wait for the error badge on the compose window's button, read the error on the
  // add-on's compose page, then close the window without sending; says whether it stayed open.
  const sendRefusal = (tabId, badgeWait, settle) => chrome(`
    const cw = [...Services.wm.getEnumerator("msgcompose")].pop();
    await until(() => cw.document.querySelector('[id$="-composeAction-toolbarbutton"]')?.getAttribute("badge") === "!", args.badgeWait, "error badge");
    await new Promise((r) => setTimeout(r, args.settle));
    const tab = win.gTabmail.openTab("contentTab", {url: args.base + "/pages/compose.html?tab=" + args.tabId});
    const q = await pageUntil(tab.browser, {one: {error: "#send-error"}}, (x) => x.state === "ready" && x.one.error, 20000, "error shown");
    win.gTabmail.closeTab(tab);
    const open = !cw.closed;
    cw.gMsgCompose.bodyModified = false; cw.gContentChanged = false; cw.SetContentAndBodyAsUnmodified?.();
    cw.close();
    return {open, error: q.one.error};`, {base, tabId, badgeWait, settle});
  const refusal = await sendRefusal(refused.tabId, 20000, 1500);
  check(refusal.open && /Not sent: there is no certificate to encrypt for nobody@example\.test/.test(refusal.error) && sink.messages.length === 0,
    `encrypting for a recipient without a certificate: not sent, window open, "${refusal.error}"`);
  await waitClosed();

  // Offline: protected mail is refused in words, never queued in the Outbox (send-later would take
  // the envelope from the queued file and lose the Bcc split).
  const offline = await compose({to: "bob@example.test", bcc: "mallory@example.test", subject: "Offline", base, body: "<p>later?</p>",
    attachment, attachmentName: "notes.txt", recipients: 2, shot: false});
  const offlineResult = await chrome(`
    const cw = [...Services.wm.getEnumerator("msgcompose")].pop();
    Services.io.offline = true;
    try {
      await cw.GenericSendMessage(Ci.nsIMsgCompDeliverMode.Now).catch(() => undefined);
      await until(() => cw.document.querySelector('[id$="-composeAction-toolbarbutton"]')?.getAttribute("badge") === "!", 20000, "error badge");
    } finally {
      Services.io.offline = false;
    }
    await new Promise((r) => setTimeout(r, 1000));
    const tab = win.gTabmail.openTab("contentTab", {url: args.base + "/pages/compose.html?tab=" + args.tabId});
    const q = await pageUntil(tab.browser, {one: {error: "#send-error"}}, (x) => x.state === "ready" && x.one.error, 20000, "error shown");
    win.gTabmail.closeTab(tab);
    const root = MailServices.accounts.localFoldersServer.rootFolder;
    const outbox = root.containsChildNamed("Unsent Messages") ? [...root.getChildNamed("Unsent Messages").messages].length : 0;
    const open = !cw.closed;
    cw.gMsgCompose.bodyModified = false; cw.gContentChanged = false; cw.SetContentAndBodyAsUnmodified?.();
    cw.close();
    return {open, error: q.one.error, outbox};`, {base, tabId: offline.tabId});
  check(offlineResult.open && /Thunderbird is offline; protected mail is sent only online/.test(offlineResult.error) &&
    offlineResult.outbox === 0 && sink.messages.length === 0,
    `offline: not sent, not queued (${offlineResult.outbox} in the Outbox), window open, "${offlineResult.error}"`);
  await waitClosed();

  // An address-book mailing list: Thunderbird expands it while building; the members are the
  // encryption recipients, so a member without a certificate stops the encrypted send in words.
  await chrome(`
    const book = MailServices.ab.getDirectory("jsaddrbook://abook.sqlite");
    const list = Cc["@mozilla.org/addressbook/directoryproperty;1"].createInstance(Ci.nsIAbDirectory);
    list.isMailList = true; list.dirName = "Team"; list.listNickName = "team";
    const added = book.addMailList(list);
    for (const email of ["bob@example.test", "nobody@example.test"]) {
      const card = Cc["@mozilla.org/addressbook/cardproperty;1"].createInstance(Ci.nsIAbCard);
      card.primaryEmail = email; card.displayName = email.split("@")[0];
      added.addCard(card);
    }
    return true;`);
  const listed = await compose({to: "Team <Team>", bcc: "", subject: "To the list", base, body: "<p>team</p>", attachment,
    attachmentName: "notes.txt", recipients: 0, shot: false});
  await send();
  const listRefusal = await sendRefusal(listed.tabId, 30000, 1000);
  check(listRefusal.open && /no certificate to encrypt for nobody@example\.test/.test(listRefusal.error) && sink.messages.length === 0,
    `a mailing list with a member without a certificate: not sent, "${listRefusal.error}"`);
  await waitClosed();

  const subject = "Minutes " + randomBytes(3).toString("hex");
  const c = await compose({to: "Bob <bob@example.test>", bcc: "mallory@example.test", subject, base,
    body: "<p>Hello Bob, <b>the minutes</b> are attached.</p>", attachment, attachmentName: "minutes.txt", recipients: 2, shot: true});
  check(c.canSend, "the compose toggles are enabled (the Experiment is there)");
  check(c.recipients.length === 2 && c.recipients.every((r) => /can receive encrypted mail/.test(r)),
    `recipients can receive encrypted mail: ${c.recipients.join("; ")}`);
  check(c.badge === "SE", `compose action badge shows sign and encrypt ("${c.badge}")`);
  const togglesPng = save("thunderbird-compose-toggles.png", c.shot);
  check(togglesPng.length > 20_000, `thunderbird-compose-toggles.png saved (${togglesPng.length} bytes)`);
  save("thunderbird-compose-window.png", c.composeShot);

  // Thunderbird autosaves a plaintext draft; it must be gone once the protected message is sent.
  const drafts = await chrome(`
    const cw = [...Services.wm.getEnumerator("msgcompose")].pop();
    await cw.GenericSendMessage(Ci.nsIMsgCompDeliverMode.AutoSaveAsDraft);
    const root = MailServices.accounts.localFoldersServer.rootFolder;
    await until(() => root.containsChildNamed("Drafts") && [...root.getChildNamed("Drafts").messages].length, 20000, "autosaved draft");
    return [...root.getChildNamed("Drafts").messages].length;`);
  check(drafts === 1, `Thunderbird autosaved a draft before sending (${drafts})`);
  const t0 = performance.now();
  await send();
  await sink.waitFor(2);
  console.log(`send of a small message: ${(sink.messages[1].at - t0).toFixed(0)} ms from the click to the sink`);
  await waitClosed();
  check(true, "the compose window closed after sending");
  const main = sink.messages.find((x) => x.to.includes("bob@example.test"));
  const bccCopy = sink.messages.find((x) => x.to.includes("mallory@example.test") && x !== main);
  check(main && main.to.length === 1 && main.from === "alice@example.test", `main copy: MAIL FROM ${main?.from}, RCPT TO ${main?.to}`);
  check(bccCopy && bccCopy.to.length === 1, `Bcc copy sent separately: RCPT TO ${bccCopy?.to}`);
  const mainText = main.data.toString("latin1");
  const mainHead = mainText.slice(0, headerEnd(mainText));
  check(/application\/pkcs7-mime/i.test(mainHead) && !/^bcc:/im.test(mainHead) && /^From: Alice <alice@example.test>/m.test(mainHead),
    "main copy is S/MIME enveloped, from the identity, with no Bcc field");
  writeFileSync(join(work, "main.eml"), main.data);
  writeFileSync(join(work, "bcc.eml"), bccCopy.data);
  const p = (n) => join(pki, n);
  const inner = openssl(["cms", "-decrypt", "-in", join(work, "main.eml"), "-recip", p("bob.pem"), "-inkey", p("bob.key")]);
  writeFileSync(join(work, "inner.eml"), inner);
  const innerText = inner.toString("latin1");
  const content = openssl(["cms", "-verify", "-in", join(work, "inner.eml"), "-CAfile", p("root.pem"), "-purpose", "any"]).toString("latin1");
  check(/multipart\/signed/i.test(innerText), "openssl cms: bob decrypts the main copy and finds a signed message");
  check(/the minutes/.test(content) && /filename="?minutes\.txt/.test(content) && /attachment bytes for the send test/.test(Buffer.from(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)\r?\n--/.exec(content.slice(content.indexOf("minutes.txt")))?.[1] ?? "", "base64").toString() + content),
    "openssl cms: the signature verifies; the HTML body and the attachment with its name are inside");
  let mallorySees = true;
  try {
    openssl(["cms", "-decrypt", "-in", join(work, "main.eml"), "-recip", p("mallory.pem"), "-inkey", p("mallory.key")]);
  } catch {
    mallorySees = false;
  }
  check(!mallorySees, "the Bcc recipient is not a recipient of the main copy");
  const bccInner = openssl(["cms", "-decrypt", "-in", join(work, "bcc.eml"), "-recip", p("mallory.pem"), "-inkey", p("mallory.key")]).toString("latin1");
  check(/multipart\/signed/i.test(bccInner), "openssl cms: the Bcc recipient decrypts their own copy");

  // gpgsm (which reads neither ECDH nor RSA-OAEP): decrypt the Bcc copy as mallory (RSA), verify alice's signature.
  const gnupg = join(work, "gnupg");
  mkdirSync(gnupg, {mode: 0o700});
  writeFileSync(join(gnupg, "gpgsm.conf"), "disable-crl-checks\n");
  writeFileSync(join(gnupg, "gpg-agent.conf"), "allow-loopback-pinentry\n");
  const genv = {...process.env, GNUPGHOME: gnupg};
  const gpgsm = (args, input) => execFileSync("gpgsm", ["--batch", "--pinentry-mode", "loopback", ...args], {env: genv, input, stdio: ["pipe", "pipe", "pipe"]});
  gpgsm(["--import", p("root.pem"), p("intermediate.pem"), p("other-root.pem")]);
  const trust = ["root.pem", "other-root.pem"].map((f) => openssl(["x509", "-in", p(f), "-noout", "-fingerprint", "-sha1"]).toString().split("=")[1].trim());
  writeFileSync(join(gnupg, "trustlist.txt"), trust.map((f) => `${f} S relax\n`).join(""));
  openssl(["pkcs12", "-export", "-legacy", "-inkey", p("mallory.key"), "-in", p("mallory.pem"), "-out", p("mallory-legacy.p12"), "-passout", "pass:"]);
  gpgsm(["--passphrase-fd", "0", "--import", p("mallory-legacy.p12")], "\n");
  const bccText = bccCopy.data.toString("latin1");
  writeFileSync(join(work, "bcc.p7m"), Buffer.from(bccText.slice(headerEnd(bccText) + 4).replace(/\s+/g, ""), "base64"));
  const gBcc = gpgsm(["--passphrase", "", "--decrypt", join(work, "bcc.p7m")]).toString("latin1");
  check(gBcc.replace(/\r\n/g, "\n") === bccInner.replace(/\r\n/g, "\n") && /multipart\/signed/i.test(gBcc), "gpgsm: the Bcc recipient decrypts their copy to the same signed message as openssl");
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(innerText)?.[1];
  const parts = innerText.split(`--${boundary}`);
  const signedPart = parts[1].replace(/^\r\n/, "").replace(/\r\n$/, "");
  const sigDer = Buffer.from(parts[2].slice(parts[2].indexOf("\r\n\r\n") + 4).replace(/\s+/g, ""), "base64");
  writeFileSync(join(work, "signed-part"), signedPart, "latin1");
  writeFileSync(join(work, "sig.der"), sigDer);
  const status = gpgsm(["--status-fd", "1", "--verify", join(work, "sig.der"), join(work, "signed-part")]).toString();
  check(/GOODSIG/.test(status) && /VALIDSIG/.test(status), "gpgsm: alice's signature verifies (GOODSIG, VALIDSIG)");

  // The Sent copy is the bytes that went out; no plaintext draft is left.
  const sent = await chrome(`
    const root = MailServices.accounts.localFoldersServer.rootFolder;
    const sent = await until(() => root.containsChildNamed("Sent") && [...root.getChildNamed("Sent").messages].length && root.getChildNamed("Sent"), 20000, "Sent copy");
    const hdrs = [...sent.messages];
    const drafts = root.containsChildNamed("Drafts") ? [...root.getChildNamed("Drafts").messages].length : 0;
    return {count: hdrs.length, raw: readFolderMessage(sent, hdrs[hdrs.length - 1]), drafts};`);
  const sentRaw = sent.raw.replace(/^(X-Mozilla-[A-Za-z0-9]+:[^\n]*\n)+/, "");
  check(sent.count === 1 && Buffer.from(sentRaw, "latin1").equals(main.data), `the Sent copy is byte for byte the main copy (${sent.count} in Sent)`);
  check(sent.drafts === 0, `no plaintext draft is left (${sent.drafts} in Drafts)`);

  // --- a reply: encryption on by default (bob's certificate came from his signature), reply headers kept, original marked replied ---
  const beforeReply = sink.messages.length;
  const original = await chrome(`
    const folder = testFolder();
    const hdr = [...folder.messages].find((h) => h.subject === "Signed by Bob");
    const before = new Set(Services.wm.getEnumerator("msgcompose"));
    MailServices.compose.OpenComposeWindow(null, hdr, folder.getUriForMsg(hdr), Ci.nsIMsgCompType.Reply, Ci.nsIMsgCompFormat.Default,
      MailServices.accounts.allIdentities[0], null, null);
    const cw = await until(() => [...Services.wm.getEnumerator("msgcompose")].find((w) => !before.has(w) && w.gMsgCompose && w.GetCurrentEditor?.()), 30000, "reply window");
    await until(() => cw.document.querySelector('[id$="-composeAction-toolbarbutton"]')?.getAttribute("badge") === "E", 60000, "encrypt on by default");
    cw.goDoCommand("cmd_sendNow");
    return {messageId: hdr.messageId, replied: !!(hdr.flags & Ci.nsMsgMessageFlags.Replied)};`);
  await sink.waitFor(beforeReply + 1);
  await waitClosed();
  const replyText = sink.messages[beforeReply].data.toString("latin1");
  const replyHead = replyText.slice(0, headerEnd(replyText));
  check(!original.replied && /application\/pkcs7-mime/i.test(replyHead) && replyHead.includes(`In-Reply-To: <${original.messageId}>`) &&
    new RegExp(`References: .*<${original.messageId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}>`).test(replyHead.replace(/\r\n\s+/g, " ")),
    `reply: encrypted by default, In-Reply-To and References name the original`);
  writeFileSync(join(work, "reply.eml"), sink.messages[beforeReply].data);
  const replyInner = openssl(["cms", "-decrypt", "-in", join(work, "reply.eml"), "-recip", p("bob.pem"), "-inkey", p("bob.key")]).toString("latin1");
  check(/^Content-Type: (text|multipart)\//im.test(replyInner) && !/multipart\/signed/i.test(replyInner), "reply: bob decrypts it; not signed (signing is off by default)");
  const marked = await chrome(`
    const hdr = [...testFolder().messages].find((h) => h.subject === "Signed by Bob");
    await until(() => hdr.flags & Ci.nsMsgMessageFlags.Replied, 10000, "replied flag");
    return true;`);
  check(marked === true, "the original is marked replied");

  // --- timing: 50 KB and 10 MB attachments, signed and encrypted, click to sink ---
  const time = async (bytes) => {
    const file = join(work, `payload-${bytes}.bin`);
    writeFileSync(file, randomBytes(bytes));
    const before = sink.messages.length;
    await compose({to: "bob@example.test", bcc: "", subject: `payload ${bytes}`, base, body: "<p>payload</p>", attachment: file,
      attachmentName: "payload.bin", recipients: 1, shot: false});
    const start = performance.now();
    await send();
    await sink.waitFor(before + 1, 300_000);
    const ms = sink.messages[before].at - start;
    await waitClosed();
    return {ms, size: sink.messages[before].data.length};
  };
  const small = await time(50_000);
  const large = await time(10_000_000);
  // --- without the Experiment (as when Thunderbird suppresses it): reading works, sending says why not ---
  m.close();
  process.kill(-tb.pid, "SIGTERM");
  await new Promise((r) => setTimeout(r, 3000));
  const second = await makeProfile("profile-no-experiment", {"extensions.experiments.enabled": false});
  tb = launch(second.profile);
  m = await Marionette.open(second.marionettePort, 300);
  await m.command("WebDriver:NewSession", {capabilities: {}});
  await m.command("Marionette:SetContext", {value: "chrome"});
  const again = await chrome(`await until(() => win && win.gTabmail && ext, 60000, "add-on"); await new Promise((r) => setTimeout(r, 3000)); return {uuid: ext.uuid};`);
  const base2 = `moz-extension://${again.uuid}`;
  const plain = await display("signed", messages.signed);
  check(plain.headline === "Signed" && plain.tone === "good", `without the Experiment, reading still works: banner "${plain.headline}" (${plain.tone})`);
  const before = sink.messages.length;
  const blocked = await compose({to: "bob@example.test", bcc: "", subject: "No experiment", base: base2, body: "<p>hi</p>", attachment,
    attachmentName: "notes.txt", recipients: 1, shot: false, expectDisabled: true});
  check(!blocked.canSend && /Experiment/.test(blocked.unavailable ?? ""), `without the Experiment, the compose page says why: "${blocked.unavailable}"`);
  // Encryption is on by default for bob (his certificate is known): Send is refused, with the reason.
  await send();
  const why = await chrome(`
    const cw = [...Services.wm.getEnumerator("msgcompose")].pop();
    const title = await until(() => {
      const b = cw.document.querySelector('[id$="-composeAction-toolbarbutton"]');
      const t = b?.getAttribute("tooltiptext") || b?.getAttribute("label") || "";
      return b?.getAttribute("badge") === "!" && /Experiment/.test(t) && t;
    }, 20000, "error badge and title");
    await new Promise((r) => setTimeout(r, 1000));
    const open = !cw.closed;
    cw.gMsgCompose.bodyModified = false; cw.gContentChanged = false; cw.close();
    return {open, title};`);
  check(why.open && /Experiment/.test(why.title) && sink.messages.length === before,
    `without the Experiment, Send with encryption on is refused, the window stays open, nothing is sent ("${why.title.slice(0, 60)}…")`);

  const version = execFileSync(THUNDERBIRD, ["--version"], {encoding: "utf8"}).trim();
  console.log(`TIMING ${version}: click to sink, signed and encrypted: 50 KB attachment ${small.ms.toFixed(0)} ms ` +
    `(${(small.size / 1e3).toFixed(0)} KB sent); 10 MB attachment ${large.ms.toFixed(0)} ms (${(large.size / 1e6).toFixed(1)} MB sent)`);
} catch (error) {
  failures++;
  console.log("FAIL: " + (error.stack || error));
  console.log(tbLog.split("\n").filter((l) => /smime|JavaScript error|console\.(error|warn)|Error/i.test(l)).slice(-40).join("\n"));
} finally {
  stopBrowser(m, tb);
  sink.close();
  if (!process.env.SMIME_KEEP_WORK) setTimeout(() => rmSync(work, {recursive: true, force: true}), 1000);
}
console.log(failures ? `${failures} check(s) failed` : "all thunderbird checks passed");
setTimeout(() => process.exit(failures ? 1 : 0), 1500);
