// SPDX-License-Identifier: MIT
// The options page: your identities (import PKCS#12, activate, deactivate, delete, export),
// correspondents' certificates, roots and CRLs, the key store passphrase, the defaults for new
// mail, the organisation's policy and the host's version. The PKCS#12 file and its password go
// straight to the host and are not kept.

import {call} from "../common/rpc.js";
import {byId, download, dropZone, el, formatDate, readFile} from "../common/dom.js";
import {localize, t} from "../common/i18n.js";
import {toBase64} from "../host/base64.js";
import {describeError, HostError} from "../host/errors.js";
import type {Certificate, CertificateList, Identity, Policy, Warning} from "../host/types.js";
import {optionsGrants} from "../page-api/grants-view.js";
import {api} from "../platform/index.js";

const PAGE = 50;
let certificateOffset = 0;

function say(target: string, text: string, kind: "ok" | "error" = "ok"): void {
  const node = byId(target);
  node.textContent = text;
  node.className = "message " + kind;
  node.hidden = false;
}

function fail(target: string, error: unknown): void {
  const e = error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error));
  say(target, describeError(e, t), "error");
  byId(target).dataset.code = e.code;
  if (e.code === "ERR_HOST_NOT_INSTALLED") showHostMissing();
}

function warningText(w: Warning): string {
  const text = t("warning_" + w.code);
  return text && text !== "warning_" + w.code ? text : w.message || w.code;
}

function warningList(warnings: Warning[] | undefined): HTMLElement | null {
  if (!warnings?.length) return null;
  return el("ul", {class: "warnings"}, ...warnings.map((w) => el("li", {"data-code": w.code, text: warningText(w)})));
}

function showHostMissing(): void {
  byId("host-missing").hidden = false;
}

async function refreshStatus(): Promise<void> {
  try {
    const [hello, status] = await Promise.all([call("hello"), call("store.status")]);
    byId("host-missing").hidden = true;
    byId("host-version").textContent = t("host_version", [hello.version, String(hello.protocol), hello.openssl]);
    byId("host-features").textContent = hello.features?.length ? t("host_features", [hello.features.join(", ")]) : "";
    const state = !status.protected ? "store_unprotected" : status.unlocked ? "store_unlocked" : "store_locked";
    byId("store-state").textContent = t(state);
    byId("store-state").dataset.state = state;
    byId("unlock-form").hidden = !status.protected || status.unlocked;
    byId("lock").hidden = !status.protected || !status.unlocked;
    byId("old-passphrase-row").hidden = !status.protected;
    byId("remove-passphrase").hidden = !status.protected;
    renderPolicy(status.policy ?? hello.policy);
  } catch (error) {
    fail("status-message", error);
  }
}

function renderPolicy(policy: Policy | undefined): void {
  const view = byId("policy");
  view.replaceChildren();
  if (!policy?.in_force) {
    view.append(el("p", {text: policy?.error ? t("policy_error", [policy.error]) : t("policy_none")}));
    return;
  }
  view.append(el("p", {text: t("policy_in_force", [policy.source ?? ""])}));
  const list = el("dl", {});
  for (const [key, value] of Object.entries(policy.effective ?? {})) {
    list.append(el("dt", {text: key}), el("dd", {text: typeof value === "string" ? value : JSON.stringify(value)}));
  }
  view.append(list);
}

function identityRow(identity: Identity): HTMLElement {
  const actions = el("div", {class: "actions"});
  const button = (label: string, handler: () => Promise<void>, cls = ""): void => {
    const b = el("button", {type: "button", class: cls, text: label});
    b.setAttribute("aria-label", `${label}: ${identity.emails.join(", ") || identity.subject}`);
    b.addEventListener("click", () => handler().catch((e) => fail("identities-message", e)));
    actions.append(b);
  };
  if (identity.active) {
    button(t("deactivate"), async () => {
      await call("identities.deactivate", {fingerprint: identity.fingerprint});
      await refreshIdentities();
    });
  } else {
    button(t("activate"), async () => {
      await call("identities.activate", {fingerprint: identity.fingerprint});
      await refreshIdentities();
    });
  }
  button(t("export_certificate"), async () => {
    const {pem} = await call("identities.exportCertificate", {fingerprint: identity.fingerprint, chain: true});
    download(`${identity.emails[0] ?? identity.fingerprint.slice(0, 16)}.pem`, pem);
  });
  button(t("delete"), async () => {
    if (!confirm(t("confirm_delete_identity", [identity.emails.join(", ") || identity.subject]))) return;
    await call("identities.delete", {fingerprint: identity.fingerprint});
    say("identities-message", t("identity_deleted"));
    await refreshIdentities();
  }, "danger");
  return el("li", {class: "identity", "data-fingerprint": identity.fingerprint},
    el("div", {class: "who"}, el("strong", {text: identity.emails.join(", ") || t("no_address")}), " ", el("span", {class: "subject", text: identity.subject})),
    el("div", {class: "meta", text: t("identity_meta", [formatDate(identity.not_before), formatDate(identity.not_after), identity.issuer])}),
    el("div", {class: "active", text: identity.active && identity.active_for.length ? t("active_for", [identity.active_for.join(", ")]) : t("inactive")}),
    warningList(identity.warnings),
    actions);
}

async function refreshIdentities(): Promise<void> {
  try {
    const {identities} = await call("identities.list");
    const list = byId("identities");
    list.replaceChildren(...identities.map(identityRow));
    byId("no-identities").hidden = identities.length > 0;
  } catch (error) {
    fail("identities-message", error);
  }
}

function certificateRow(c: Certificate): HTMLElement {
  const trusted = c.trusted === undefined ? "" : c.trusted ? t("trusted_yes") : t("trusted_no");
  const del = el("button", {type: "button", class: "danger", text: t("delete")});
  del.addEventListener("click", async () => {
    if (!confirm(t("confirm_delete_certificate", [c.emails.join(", ") || c.subject]))) return;
    try {
      await call("certificates.delete", {fingerprint: c.fingerprint});
      await refreshCertificates();
    } catch (error) {
      fail("certificates-message", error);
    }
  });
  return el("tr", {"data-fingerprint": c.fingerprint},
    el("td", {text: c.emails.join(", ") || c.subject}),
    el("td", {text: t("source_" + c.source) || c.source}),
    el("td", {text: c.trust_anchor ? t("trust_anchor") : trusted}),
    el("td", {text: formatDate(c.not_after)}),
    el("td", {}, warningList(c.warnings) ?? "", c.source === "identity" ? "" : del));
}

/** Protocol 1 hosts list everything and refuse `offset`/`limit`; newer ones page. */
let hostPages = true;
async function listCertificates(): Promise<CertificateList> {
  if (hostPages) {
    try {
      return await call("certificates.list", {offset: certificateOffset, limit: PAGE});
    } catch (error) {
      if (!(error instanceof HostError) || error.code !== "ERR_BAD_REQUEST") throw error;
      hostPages = false;
    }
  }
  return call("certificates.list", {});
}

async function refreshCertificates(): Promise<void> {
  try {
    const reply = await listCertificates();
    byId("certificates").replaceChildren(...reply.certificates.map(certificateRow));
    byId("no-certificates").hidden = reply.certificates.length > 0;
    const total = reply.total;
    byId("certificates-page").textContent = total === undefined ? "" : t("page_of", [String(certificateOffset + 1), String(Math.min(certificateOffset + PAGE, total)), String(total)]);
    byId("certificates-prev").hidden = total === undefined || certificateOffset === 0;
    byId("certificates-next").hidden = total === undefined || certificateOffset + PAGE >= total;
  } catch (error) {
    fail("certificates-message", error);
  }
}

// Import a PKCS#12: the file's bytes and the password go to the host and the fields are cleared.
let pendingPkcs12: File | null = null;
dropZone(byId("p12-drop"), byId<HTMLInputElement>("p12-file"), (file) => {
  pendingPkcs12 = file;
  byId("p12-name").textContent = file.name;
});
byId<HTMLFormElement>("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const passwordField = byId<HTMLInputElement>("p12-password");
  if (!pendingPkcs12) {
    say("identities-message", t("choose_file"), "error");
    return;
  }
  try {
    let bytes: Uint8Array | null = await readFile(pendingPkcs12);
    const pkcs12 = toBase64(bytes);
    bytes.fill(0);
    bytes = null;
    const identity = await call("identities.import", {pkcs12, password: passwordField.value});
    say("identities-message", t("identity_imported", [identity.emails.join(", ") || identity.subject]));
    pendingPkcs12 = null;
    byId<HTMLInputElement>("p12-file").value = "";
    byId("p12-name").textContent = "";
    await refreshIdentities();
  } catch (error) {
    fail("identities-message", error);
  } finally {
    passwordField.value = "";
  }
});

async function textOfFile(input: HTMLInputElement, paste: HTMLTextAreaElement): Promise<string> {
  const file = input.files?.[0];
  if (!file) return paste.value.trim();
  const bytes = await readFile(file);
  const text = new TextDecoder("latin1").decode(bytes);
  return text.includes("-----BEGIN") ? text : toBase64(bytes);
}

byId<HTMLFormElement>("certificate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const kind = (byId<HTMLSelectElement>("certificate-kind").value) as "certificate" | "root" | "crl";
  try {
    const data = await textOfFile(byId<HTMLInputElement>("certificate-file"), byId<HTMLTextAreaElement>("certificate-paste"));
    if (!data) {
      say("certificates-message", t("choose_file"), "error");
      return;
    }
    if (kind === "root" && !byId<HTMLInputElement>("root-understood").checked) {
      say("certificates-message", t("root_confirm_needed"), "error");
      return;
    }
    if (kind === "crl") {
      const crl = await call("certificates.importCrl", {crl: data});
      say("certificates-message", t("crl_imported", [crl.issuer]));
    } else {
      const reply = await call("certificates.import", {certificate: data, trust_anchor: kind === "root"});
      say("certificates-message", t("certificates_imported", [String(reply.certificates.length)]));
    }
    byId<HTMLFormElement>("certificate-form").reset();
    updateRootWarning();
    await refreshCertificates();
  } catch (error) {
    fail("certificates-message", error);
  }
});
function updateRootWarning(): void {
  byId("root-warning").hidden = byId<HTMLSelectElement>("certificate-kind").value !== "root";
}
byId("certificate-kind").addEventListener("change", updateRootWarning);
byId("certificates-prev").addEventListener("click", () => {
  certificateOffset = Math.max(0, certificateOffset - PAGE);
  void refreshCertificates();
});
byId("certificates-next").addEventListener("click", () => {
  certificateOffset += PAGE;
  void refreshCertificates();
});

// Passphrase: unlock, lock, set, change, remove. Fields are cleared whatever happens.
byId<HTMLFormElement>("unlock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = byId<HTMLInputElement>("unlock-passphrase");
  try {
    await call("store.unlock", {passphrase: field.value});
    say("status-message", t("unlocked"));
  } catch (error) {
    fail("status-message", error);
  } finally {
    field.value = "";
    await refreshStatus();
  }
});
byId("lock").addEventListener("click", async () => {
  try {
    await call("store.lock");
    say("status-message", t("locked"));
  } catch (error) {
    fail("status-message", error);
  }
  await refreshStatus();
});
async function setPassphrase(newPassphrase: string): Promise<void> {
  const old = byId<HTMLInputElement>("old-passphrase");
  try {
    const args: {new_passphrase: string; old_passphrase?: string} = {new_passphrase: newPassphrase};
    if (!byId("old-passphrase-row").hidden) args.old_passphrase = old.value;
    const reply = await call("store.setPassphrase", args);
    say("passphrase-message", reply.protected ? t("passphrase_set") : t("passphrase_removed"));
  } catch (error) {
    fail("passphrase-message", error);
  } finally {
    old.value = "";
    byId<HTMLInputElement>("new-passphrase").value = "";
    byId<HTMLInputElement>("repeat-passphrase").value = "";
    await refreshStatus();
  }
}
byId<HTMLFormElement>("passphrase-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = byId<HTMLInputElement>("new-passphrase").value;
  if (value !== byId<HTMLInputElement>("repeat-passphrase").value) {
    say("passphrase-message", t("passphrase_mismatch"), "error");
    return;
  }
  if (!value) {
    say("passphrase-message", t("passphrase_empty"), "error");
    return;
  }
  await setPassphrase(value);
});
byId("remove-passphrase").addEventListener("click", async () => {
  if (!confirm(t("confirm_remove_passphrase"))) return;
  await setPassphrase("");
});

// Defaults for new mail: plain preferences, never secrets.
const DEFAULTS = {signAll: false, encryptWhenPossible: true};
async function loadDefaults(): Promise<void> {
  const stored = (await api.storage.local.get(DEFAULTS)) as typeof DEFAULTS;
  byId<HTMLInputElement>("sign-all").checked = stored.signAll;
  byId<HTMLInputElement>("encrypt-possible").checked = stored.encryptWhenPossible;
}
for (const [id, key] of [["sign-all", "signAll"], ["encrypt-possible", "encryptWhenPossible"]] as const) {
  byId<HTMLInputElement>(id).addEventListener("change", async (event) => {
    await api.storage.local.set({[key]: (event.target as HTMLInputElement).checked});
    say("defaults-message", t("saved"));
  });
}

localize();
void loadDefaults();
void refreshStatus().then(() => Promise.all([refreshIdentities(), refreshCertificates(), optionsGrants(byId("grants"))])).then(() => {
  document.body.dataset.state = "ready";
});
