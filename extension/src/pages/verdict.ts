// SPDX-License-Identifier: MIT
// Thunderbird's message display action popup: the host's verdict on the displayed message (level,
// each signer and verdict with details, notes), or why there is none.

import {call} from "../common/rpc.js";
import {byId, el} from "../common/dom.js";
import {localize, t} from "../common/i18n.js";
import {describeError, HostError} from "../host/errors.js";
import {api} from "../platform/index.js";
import {describeStatus} from "../reader/verdict.js";

async function show(): Promise<void> {
  const [tab] = await api.tabs.query({active: true, currentWindow: true});
  const {reading} = await call("tb.reading", {tabId: tab.id!});
  const banner = byId("banner");
  if (!reading) {
    byId("error").hidden = false;
    byId("error").textContent = t("tb_not_protected");
  } else if (!reading.status) {
    byId("error").hidden = false;
    byId("error").textContent = t("tb_action_error", [reading.error?.message ?? ""]);
  } else {
    const b = describeStatus(reading.status, t);
    banner.hidden = false;
    banner.className = "banner tone-" + b.tone;
    banner.append(el("h2", {text: b.headline}));
    for (const s of b.signatures) {
      banner.append(el("p", {class: "signature"}, el("strong", {text: s.signer}), " — ", el("span", {text: s.text})),
        el("ul", {}, ...s.details.map((d) => el("li", {text: d}))));
    }
    for (const note of [...b.notes, ...b.details]) banner.append(el("p", {class: "note", text: note}));
  }
  byId("reader-note").hidden = !reading?.openedInReader;
  document.body.dataset.state = "ready";
}

localize();
show().catch((error) => {
  byId("error").hidden = false;
  byId("error").textContent = describeError(error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error)), t);
});
