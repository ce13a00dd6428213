// SPDX-License-Identifier: MIT
// The display script: puts the host's verdict at the top of a displayed message: the level, each
// signer with the verdict in words, the notes, and whose verdict it is (the add-on's key store;
// Thunderbird's own icon, from its own certificate store, may differ). Runs in Thunderbird's
// message document, sometimes twice per load, so it replaces its own banner instead of adding one.
// The banner lives in a closed shadow root with its own styles, so the message's HTML and CSS can
// neither hide nor restyle it (a message can still draw a look-alike in its body: the message
// display action is the authoritative verdict).

import {t} from "../common/i18n.js";
import type {VerificationStatus} from "../host/types.js";
import {describeStatus} from "../reader/verdict.js";
import {api} from "../platform/index.js";

const BANNER_ID = "smime-host-banner";
/** Where this script keeps its banner between runs in the same document (not visible to the page). */
const KEPT = Symbol.for("smime-host-banner");

// Inside the closed shadow root: the message's CSS reaches none of this, and nothing it names.
const STYLE = `
.smime-banner { font: 14px/1.4 system-ui, sans-serif; margin: 0 0 12px; padding: 8px 12px; border-radius: 4px; border-left: 6px solid #3b5b7e; background: #eef2f6; color: #1b1f23; }
.smime-banner.tone-good { border-color: #1e7b34; background: #e6f4ea; }
.smime-banner.tone-warning { border-color: #9a6700; background: #fff4d6; }
.smime-banner.tone-bad { border-color: #b3261e; background: #fce8e6; }
.smime-whose { font-size: 12px; color: #444; }
.smime-headline { font-size: 16px; }
ul { margin: 4px 0; padding-left: 20px; }
.smime-signer { font-weight: 600; }
p { margin: 4px 0; }
.smime-other { font-size: 12px; color: #444; }
`;
// On the host element itself: inline and !important, which no style sheet of the message overrides.
const HOST_STYLE = "all: initial !important; display: block !important; visibility: visible !important; " +
  "position: static !important; opacity: 1 !important; margin: 0 0 12px !important;";

interface Reading {
  protection: string;
  status?: VerificationStatus;
  error?: {code: string; message: string};
  openedInReader?: boolean;
}

function el(tag: string, attrs: Record<string, string>, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function render(reading: Reading): void {
  if (!document.body) return;
  const kept = globalThis as unknown as Record<symbol, HTMLElement | undefined>;
  kept[KEPT]?.remove();
  let box: HTMLElement;
  if (!reading.status) {
    box = el("div", {class: "smime-banner tone-bad", "data-tone": "bad"},
      el("strong", {class: "smime-headline"}, t("tb_banner_failed")), " ", el("span", {class: "smime-error"}, reading.error?.message ?? ""));
  } else {
    const b = describeStatus(reading.status, t);
    box = el("div", {class: "smime-banner tone-" + b.tone, "data-tone": b.tone, "data-level": b.level},
      el("div", {class: "smime-whose"}, t("tb_banner_whose")),
      el("strong", {class: "smime-headline"}, b.headline));
    const list = el("ul", {class: "smime-signatures"});
    for (const s of b.signatures) {
      list.append(el("li", {class: "smime-signature", "data-verdict": s.verdict},
        el("span", {class: "smime-signer"}, s.signer), " — ", el("span", {class: "smime-verdict"}, s.text)));
    }
    if (b.signatures.length) box.append(list);
    for (const note of b.notes) box.append(el("p", {class: "smime-note"}, note));
    box.append(el("p", {class: "smime-note smime-other"}, t("tb_banner_thunderbird_differs")));
  }
  const host = el("div", {id: BANNER_ID, style: HOST_STYLE});
  const root = host.attachShadow({mode: "closed"});
  root.append(el("style", {}, STYLE), box);
  kept[KEPT] = host;
  document.body.prepend(host);
}

if (document.body) {
  const port = api.runtime.connect({name: "smime-banner"});
  port.onMessage.addListener((message: unknown) => {
    const reply = message as {messageId?: number; reading?: Reading | null};
    // One request per document, so one reply: the verdict of the message this document shows.
    if (typeof reply.messageId === "number" && reply.reading) render(reply.reading);
    port.disconnect();
  });
  port.postMessage({});
}
