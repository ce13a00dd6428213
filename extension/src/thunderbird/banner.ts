// SPDX-License-Identifier: MIT
// The display script: puts the host's verdict at the top of a displayed message: the level, each
// signer with the verdict in words, the notes, and whose verdict it is (the add-on's key store;
// Thunderbird's own icon, from its own certificate store, may differ). Runs in Thunderbird's
// message document, sometimes twice per load, so it replaces its own banner instead of adding one.

import {t} from "../common/i18n.js";
import type {VerificationStatus} from "../host/types.js";
import {describeStatus} from "../reader/verdict.js";
import {api} from "../platform/index.js";

const BANNER_ID = "smime-host-banner";

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
  document.getElementById(BANNER_ID)?.remove();
  let box: HTMLElement;
  if (!reading.status) {
    box = el("div", {id: BANNER_ID, class: "smime-banner tone-bad", "data-tone": "bad"},
      el("strong", {class: "smime-headline"}, t("tb_banner_failed")), " ", el("span", {class: "smime-error"}, reading.error?.message ?? ""));
  } else {
    const b = describeStatus(reading.status, t);
    box = el("div", {id: BANNER_ID, class: "smime-banner tone-" + b.tone, "data-tone": b.tone, "data-level": b.level},
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
  document.body.prepend(box);
}

if (document.body) {
  const port = api.runtime.connect({name: "smime-banner"});
  port.onMessage.addListener((message: unknown) => {
    const reading = (message as {reading?: Reading | null}).reading;
    if (reading) render(reading);
    port.disconnect();
  });
  port.postMessage({});
}
