// SPDX-License-Identifier: MIT
// Thunderbird's compose action popup: the sign and encrypt toggles of one compose tab, the
// recipients and whether each can receive encrypted mail (refreshed while open), the warning when
// some cannot, why protected sending is unavailable, and a failed send's error in words.

import {call} from "../common/rpc.js";
import {byId, el} from "../common/dom.js";
import {localize, t} from "../common/i18n.js";
import {describeError, HostError} from "../host/errors.js";
import {api} from "../platform/index.js";
import type {ComposeView} from "../thunderbird/compose.js";

const sign = byId<HTMLInputElement>("sign");
const encrypt = byId<HTMLInputElement>("encrypt");

async function composeTab(): Promise<number> {
  const fromUrl = Number(new URLSearchParams(location.search).get("tab"));
  if (Number.isInteger(fromUrl) && fromUrl > 0) return fromUrl;
  const [tab] = await api.tabs.query({active: true, currentWindow: true});
  return tab.id!;
}

function render(v: ComposeView): void {
  sign.checked = v.sign;
  encrypt.checked = v.encrypt;
  sign.disabled = encrypt.disabled = !v.canSend;
  byId("unavailable").hidden = v.canSend;
  byId("unavailable").textContent = v.unavailableReason ?? "";
  byId("send-error").hidden = !v.error;
  byId("send-error").textContent = v.error ?? "";
  byId("no-recipients").hidden = v.recipients.length > 0;
  byId("recipients").replaceChildren(...v.recipients.map((r) => el("li", {
    class: "recipient " + (r.canEncrypt ? "can-encrypt" : "cannot-encrypt"), "data-address": r.address,
    text: `${r.address}: ${r.canEncrypt ? (r.trusted ? t("tb_recipient_can") : t("tb_recipient_can_unverified")) : t("tb_recipient_cannot")}`,
  })));
  const warn = byId("encrypt-warning");
  warn.hidden = !(v.encrypt && v.cannotEncrypt.length);
  warn.textContent = t("tb_compose_cannot_encrypt", [v.cannotEncrypt.join(", ")]);
  document.body.dataset.state = "ready";
}

function showError(error: unknown): void {
  const e = error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error));
  byId("send-error").hidden = false;
  byId("send-error").textContent = describeError(e, t);
  document.body.dataset.state = "error";
}

localize();
void composeTab().then((tabId) => {
  const refresh = () => call("tb.compose.get", {tabId}).then(render, showError);
  sign.addEventListener("change", () => void call("tb.compose.set", {tabId, sign: sign.checked}).then(render, showError));
  encrypt.addEventListener("change", () => void call("tb.compose.set", {tabId, encrypt: encrypt.checked}).then(render, showError));
  void refresh();
  setInterval(() => void refresh(), 1500);
});
