// SPDX-License-Identifier: MIT
// The reader: opens a message the user drops or picks (a .eml or an smime.p7m), or one another
// part of the extension handed over, has the host decrypt or verify it, and shows the verdict
// banner and the body. The plaintext lives only in this page's memory: never in storage, never
// in a log.

import PostalMime, {type Email} from "postal-mime";
import {call} from "../common/rpc.js";
import {byId, download, dropZone, el, readFile} from "../common/dom.js";
import {localize, t} from "../common/i18n.js";
import {fromBase64, toBase64} from "../host/base64.js";
import {describeError, fromShape, HostError} from "../host/errors.js";
import type {VerificationStatus} from "../host/types.js";
import {looksLikeMessage, operationFor, wrapSmimeObject} from "../reader/input.js";
import {frameDocument} from "../reader/render.js";
import {describeStatus, linksMayStayLive} from "../reader/verdict.js";

const banner = byId("banner");
const bodyView = byId("body");
const attachmentsView = byId("attachments");
const errorView = byId("error");
/** The page API's viewer frame, embedded by a web page that can place, hide and overlay it: no
 * pop-ups, no remote content, and links only where the content is proven unaltered. */
const viewerMode = document.body.dataset.mode === "viewer";

function showError(error: unknown): void {
  const e = error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error));
  errorView.hidden = false;
  // The page API's budget of decryption failures is used up: say so, and how it comes back.
  const budget = e.code === "ERR_THROTTLED" && e.details.reason === "decrypt_failures";
  errorView.textContent = budget ? t("viewer_decrypt_budget") : describeError(e, t);
  errorView.dataset.code = e.code;
  if (e.code === "ERR_HOST_NOT_INSTALLED") errorView.append(el("p", {text: t("host_install_hint")}));
}

function renderBanner(status: VerificationStatus): void {
  const b = describeStatus(status, t);
  banner.hidden = false;
  banner.className = "banner tone-" + b.tone;
  banner.dataset.level = b.level;
  banner.replaceChildren(el("h2", {id: "banner-headline", text: b.headline}));
  const list = el("ul", {class: "signatures"});
  for (const s of b.signatures) {
    const item = el("li", {class: "signature tone-" + s.tone, "data-verdict": s.verdict},
      el("strong", {text: s.signer}), " — ", el("span", {class: "verdict", text: s.text}));
    if (s.details.length) {
      item.append(el("details", {}, el("summary", {text: t("details")}), el("ul", {}, ...s.details.map((d) => el("li", {text: d})))));
    }
    list.append(item);
  }
  if (b.signatures.length) banner.append(list);
  for (const note of b.notes) banner.append(el("p", {class: "note", text: note}));
  if (b.details.length) {
    banner.append(el("details", {class: "layers"}, el("summary", {text: t("layers")}), el("ul", {}, ...b.details.map((d) => el("li", {text: d})))));
  }
}

function cidMap(email: Email): Map<string, string> {
  const map = new Map<string, string>();
  for (const a of email.attachments) {
    if (!a.contentId || !/^image\//i.test(a.mimeType)) continue;
    const bytes = typeof a.content === "string" ? new TextEncoder().encode(a.content) : new Uint8Array(a.content);
    map.set(a.contentId.replace(/^<|>$/g, ""), `data:${a.mimeType};base64,${toBase64(bytes)}`);
  }
  return map;
}

function renderBody(email: Email, allowRemote: boolean, status: VerificationStatus): void {
  const header = el("dl", {class: "headers"});
  const from = email.from ? `${email.from.name ?? ""} <${email.from.address ?? ""}>`.trim() : "";
  for (const [label, value] of [[t("header_from"), from], [t("header_subject"), email.subject ?? ""], [t("header_date"), email.date ?? ""]]) {
    header.append(el("dt", {text: label}), el("dd", {text: value}));
  }
  bodyView.replaceChildren(header);
  if (email.html) {
    const inertLinks = viewerMode && !linksMayStayLive(status);
    const doc = frameDocument(email.html, {allowRemote: allowRemote && !viewerMode, cid: cidMap(email), inertLinks});
    if (doc.blockedRemote > 0 && !allowRemote && !viewerMode) {
      const bar = el("div", {class: "remote-bar", id: "remote-bar"}, el("span", {text: t("remote_blocked", [String(doc.blockedRemote)])}));
      const allow = el("button", {type: "button", id: "allow-remote", text: t("remote_allow")});
      allow.addEventListener("click", () => renderBody(email, true, status));
      bar.append(" ", allow);
      bodyView.append(bar);
    }
    const sandbox = viewerMode ? "" : "allow-popups allow-popups-to-escape-sandbox";
    const frame = el("iframe", {id: "html-body", title: t("message_body"), sandbox, referrerpolicy: "no-referrer"});
    frame.srcdoc = doc.html;
    bodyView.append(frame);
  } else {
    bodyView.append(el("pre", {id: "text-body", class: "text-body", text: email.text ?? ""}));
  }
  bodyView.hidden = false;
}

function renderAttachments(email: Email): void {
  const files = email.attachments.filter((a) => a.disposition !== "inline" || !a.contentId);
  attachmentsView.replaceChildren();
  if (!files.length) {
    attachmentsView.hidden = true;
    return;
  }
  attachmentsView.append(el("h3", {text: t("attachments")}));
  const list = el("ul", {});
  files.forEach((a, i) => {
    const bytes = typeof a.content === "string" ? new TextEncoder().encode(a.content) : new Uint8Array(a.content);
    const name = a.filename || `attachment-${i + 1}`;
    const button = el("button", {type: "button", class: "download", text: t("download")});
    button.addEventListener("click", () => download(name, bytes));
    list.append(el("li", {}, el("span", {class: "attachment-name", text: `${name} (${a.mimeType}, ${bytes.length} B)`}), " ", button));
  });
  attachmentsView.append(list);
  attachmentsView.hidden = false;
}

/** Shows a message the host opened: the banner first, then the body and attachments. */
async function show(opened: {mime: string; status: VerificationStatus}): Promise<void> {
  renderBanner(opened.status);
  performance.mark("verdict");
  const email = await PostalMime.parse(fromBase64(opened.mime));
  renderBody(email, false, opened.status);
  renderAttachments(email);
  performance.mark("body");
  document.body.dataset.state = "shown";
}

/** The page API's viewer frame (viewer.html): shows what the background opened for a web page,
 * or the error in words; the page that embeds the frame cannot read it. */
async function showForPage(token: string): Promise<void> {
  markOpen();
  try {
    const item = await call("viewer.take", {token});
    if ("error" in item) throw fromShape(item.error);
    await show(item);
  } catch (error) {
    showError(error);
    document.body.dataset.state = "error";
  }
}

/** Opens raw bytes: the host decrypts or verifies, then the banner and the body are shown. */
async function openMessage(raw: Uint8Array): Promise<void> {
  errorView.hidden = true;
  banner.hidden = true;
  bodyView.hidden = true;
  attachmentsView.hidden = true;
  byId("progress").hidden = false;
  try {
    const message = looksLikeMessage(raw) ? raw : wrapSmimeObject(raw);
    const op = operationFor(message);
    const mime = toBase64(message);
    performance.mark("encoded");
    const opened = await call(op, {mime});
    performance.mark("replied");
    await show(opened);
  } catch (error) {
    showError(error);
    document.body.dataset.state = "error";
  } finally {
    byId("progress").hidden = true;
  }
}

/** "open" is marked when the user hands over the file; "verdict" when the banner shows. */
function markOpen(): void {
  performance.clearMarks();
  performance.mark("open");
  document.body.dataset.state = "opening";
}

async function openFile(file: File): Promise<void> {
  markOpen();
  await openMessage(await readFile(file));
}

localize();
const token = location.hash.slice(1);
if (viewerMode) {
  void showForPage(token);
} else {
  dropZone(byId("drop"), byId<HTMLInputElement>("file"), (file) => void openFile(file));
  if (token) {
    markOpen();
    call("reader.take", {token}).then((m) => openMessage(fromBase64(m.mime)), showError);
  }
}
