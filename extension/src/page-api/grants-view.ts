// SPDX-License-Identifier: MIT
// The user's side of page API grants: in the popup, "Allow S/MIME for <exact origin>" for the
// tab the popup belongs to (or revoke it); in the options page, every granted site with its
// source and a revoke button (the administrator's grants and bans are shown, not editable).

import {call} from "../common/rpc.js";
import {el} from "../common/dom.js";
import {t} from "../common/i18n.js";
import {describeError, HostError} from "../host/errors.js";
import {api, target} from "../platform/index.js";
import type {GrantEntry} from "./background.js";
import {exactOrigin} from "./protocol.js";

function errorText(error: unknown): string {
  return describeError(error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error)), t);
}

/** The tab the popup acts on: `?tab=<id>` when given, else the active tab of this window. */
async function currentTab(): Promise<chrome.tabs.Tab | undefined> {
  const param = new URLSearchParams(location.search).get("tab");
  if (param && /^\d+$/.test(param)) return api.tabs.get(Number(param));
  const [tab] = await api.tabs.query({active: true, currentWindow: true});
  return tab;
}

/** Fills the popup's site box: the current tab's exact origin and whether it may use S/MIME. */
export async function popupGrant(box: HTMLElement): Promise<void> {
  if (target === "thunderbird") return;  // the Thunderbird build has no page API
  const tab = await currentTab().catch(() => undefined);
  const origin = tab?.url ? exactOrigin(tab.url) : null;
  if (!tab || !origin) {
    box.hidden = true;
    return;
  }
  const render = (grants: GrantEntry[], message = ""): void => {
    const entry = grants.find((g) => g.origin === origin);
    box.hidden = false;
    box.dataset.origin = origin;
    const status = el("p", {id: "site-status", class: "grant"});
    const children: Node[] = [status];
    if (entry?.forbidden) {
      status.textContent = t("page_api_forbidden", [origin]);
      box.dataset.state = "forbidden";
    } else if (entry) {
      status.textContent = t("page_api_allowed", [origin]);
      box.dataset.state = "granted";
      if (entry.source === "user") {
        const revoke = el("button", {type: "button", id: "site-revoke", text: t("page_api_revoke")});
        revoke.addEventListener("click", () => call("grants.remove", {origin}).then((r) => render(r.grants), (e) => render(grants, errorText(e))));
        children.push(revoke);
      } else {
        children.push(el("p", {class: "hint", text: t("page_api_by_policy")}));
      }
    } else {
      status.textContent = t("page_api_not_allowed", [origin]);
      box.dataset.state = "not_granted";
      const allow = el("button", {type: "button", id: "site-allow", text: t("page_api_allow", [origin])});
      allow.addEventListener("click", () => call("grants.add", {origin, tabId: tab.id}).then((r) => render(r.grants), (e) => render(grants, errorText(e))));
      children.push(allow, el("p", {class: "hint", text: t("page_api_allow_hint")}));
    }
    if (message) children.push(el("p", {class: "message error", text: message}));
    box.replaceChildren(...children);
  };
  render((await call("grants.list")).grants);
}

/** Fills the options page's list of sites. */
export async function optionsGrants(list: HTMLElement): Promise<void> {
  if (target === "thunderbird") {
    list.closest("section")?.setAttribute("hidden", "");
    return;
  }
  const render = (grants: GrantEntry[]): void => {
    if (!grants.length) {
      list.replaceChildren(el("li", {id: "no-grants", class: "hint", text: t("page_api_none")}));
      return;
    }
    list.replaceChildren(...grants.map((g) => {
      const state = g.forbidden ? t("page_api_state_forbidden") : g.source === "policy" ? t("page_api_by_policy") : t("page_api_state_user");
      const item = el("li", {class: "grant", "data-origin": g.origin, "data-source": g.source, "data-forbidden": String(g.forbidden)},
        el("span", {class: "origin", text: g.origin}), " — ", el("span", {class: "meta", text: state}));
      if (g.source === "user") {
        const revoke = el("button", {type: "button", class: "revoke", text: t("page_api_revoke")});
        revoke.addEventListener("click", () => void call("grants.remove", {origin: g.origin}).then((r) => render(r.grants)));
        item.append(" ", revoke);
      }
      return item;
    }));
  };
  render((await call("grants.list")).grants);
}
