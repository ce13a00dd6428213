// SPDX-License-Identifier: MIT
// Composing in Thunderbird: per compose tab, sign and encrypt toggles (defaults from the options
// page), which recipients can receive encrypted mail (refreshed as recipients change), and the
// send hook. With protection on, the send hook has Thunderbird build the message it would send,
// the host sign or encrypt it, and the Experiment send exactly those bytes (one copy per Bcc
// recipient when encrypting); Thunderbird's own send is cancelled, so nothing is wrapped twice.

import type {HostClient} from "../host/client.js";
import {toShape} from "../host/errors.js";
import {t} from "../common/i18n.js";
import {api} from "../platform/index.js";
import {type ComposeDetails, canSendProtected, messenger} from "./messenger.js";
import {addressList, addressOf, headerRecipients, removeField, splitAddresses} from "./mime.js";

export interface RecipientState {
  address: string;
  canEncrypt: boolean;
  trusted: boolean;
}

/** What the compose popup shows for one compose tab. */
export interface ComposeView {
  sign: boolean;
  encrypt: boolean;
  /** The user set the encrypt toggle; otherwise it follows "encrypt when possible". */
  encryptChosen: boolean;
  recipients: RecipientState[];
  cannotEncrypt: string[];
  canSend: boolean;
  unavailableReason?: string;
  error?: string;
  sending?: boolean;
}

interface ComposeState {
  sign: boolean;
  encrypt: boolean | null;
  recipients: RecipientState[];
  key: string;
  /** The newest recipients.status asked for this tab: an older answer arriving later is dropped. */
  asked: number;
  /** A list the host failed to answer for, and when the once-a-second look may ask again. */
  retry?: {key: string; failures: number; at: number};
  /** The question about a list still on its way: a look at the same list waits for its answer. */
  inflight?: {key: string; ticket: number; answer: Promise<RecipientState[]>; counted?: boolean};
  error?: string;
  sending?: boolean;
  autosaved: Set<number>;
}

const states = new Map<number, ComposeState>();
const POLL_MS = 1000;
const DEFAULTS = {signAll: false, encryptWhenPossible: true};

async function defaults(): Promise<typeof DEFAULTS> {
  return (await api.storage.local.get(DEFAULTS)) as typeof DEFAULTS;
}

async function stateOf(tabId: number): Promise<ComposeState> {
  let s = states.get(tabId);
  if (!s) {
    const d = await defaults();
    // Another look may have made it while the defaults were read: one state per tab.
    s = states.get(tabId) ?? {sign: d.signAll, encrypt: null, recipients: [], key: "", asked: 0, autosaved: new Set()};
    states.set(tabId, s);
  }
  return s;
}

function allRecipients(details: ComposeDetails): string[] {
  return [...new Set([...addressList(details.to), ...addressList(details.cc), ...addressList(details.bcc)])];
}

const RETRY_MAX_MS = 60_000;

/**
 * Asks the host about recipients whose list changed since the last look. The list counts as seen
 * only once the host answered, so a failed request is asked again: at once when the user looks
 * (the popup, sending), and from the once-a-second look after 1, 2, 4 ... up to 60 seconds.
 */
export async function refreshRecipients(client: HostClient, tabId: number, details?: ComposeDetails,
  polling = false): Promise<ComposeState> {
  const s = await stateOf(tabId);
  const d = details ?? await messenger.compose.getComposeDetails(tabId);
  const addresses = allRecipients(d);
  const key = addresses.join(",");
  if (key === s.key) return s;
  if (polling && s.retry?.key === key && Date.now() < s.retry.at) return s;
  // A slow host must not be asked the same question again and again (each new question would
  // make the answers to the earlier ones count for nothing): a look at the list being asked about
  // waits for that answer.
  let pending = s.inflight?.key === key ? s.inflight : undefined;
  if (!pending) {
    const answer = addresses.length === 0 ? Promise.resolve([]) : client.request<{recipients: {address: string; can_encrypt: boolean; certificate: {trusted?: boolean} | null}[]}>(
      "recipients.status", {addresses}).then((r) =>
      r.recipients.map((x) => ({address: x.address, canEncrypt: x.can_encrypt, trusted: x.certificate?.trusted === true})));
    pending = {key, ticket: ++s.asked, answer};
    s.inflight = pending;
  }
  const asked = pending;
  let recipients: RecipientState[];
  try {
    recipients = await asked.answer;
  } catch (e) {
    if (asked.ticket === s.asked && !asked.counted) {
      asked.counted = true;
      const failures = s.retry?.key === key ? s.retry.failures + 1 : 1;
      s.retry = {key, failures, at: Date.now() + Math.min(RETRY_MAX_MS, 1000 * 2 ** (failures - 1))};
    }
    throw e;
  } finally {
    if (s.inflight === asked) s.inflight = undefined;
  }
  if (asked.ticket === s.asked) {
    s.key = key;
    s.recipients = recipients;
    s.retry = undefined;
  }
  return s;
}

async function view(tabId: number): Promise<ComposeView> {
  const s = await stateOf(tabId);
  const d = await defaults();
  const cannotEncrypt = s.recipients.filter((r) => !r.canEncrypt).map((r) => r.address);
  const encrypt = s.encrypt ?? (d.encryptWhenPossible && s.recipients.length > 0 && cannotEncrypt.length === 0);
  return {
    sign: s.sign, encrypt, encryptChosen: s.encrypt !== null, recipients: s.recipients, cannotEncrypt,
    canSend: canSendProtected(), unavailableReason: canSendProtected() ? undefined : t("tb_no_experiment"),
    error: s.error, sending: s.sending,
  };
}

/** How long one look at one compose tab, or one update of its compose action, may take. */
const LOOK_MS = 5000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error("no answer in time")), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const painting = new Map<number, Promise<void>>();
const paintings = new Map<number, number>();

/**
 * Updates the compose action of a tab; updates run one after another, so the last state wins. An
 * update that outlives its turn (LOOK_MS) stops at its next step once a newer one has been asked
 * for; a call of it that lands late anyway is set right by the next second's look.
 */
function showOnAction(tabId: number): Promise<void> {
  const generation = (paintings.get(tabId) ?? 0) + 1;
  paintings.set(tabId, generation);
  const next = (painting.get(tabId) ?? Promise.resolve())
    .then(() => within(paint(tabId, () => paintings.get(tabId) === generation), LOOK_MS)).catch(() => undefined);
  painting.set(tabId, next);
  return next;
}

async function paint(tabId: number, current: () => boolean): Promise<void> {
  const v = await view(tabId);
  if (!current()) return;
  const action = messenger.composeAction;
  const text = v.error ? "!" : `${v.sign ? "S" : ""}${v.encrypt ? "E" : ""}`;
  await action.setBadgeText({tabId, text});
  if (!current()) return;
  await action.setBadgeBackgroundColor({tabId, color: v.error ? "#c62828" : v.encrypt && v.cannotEncrypt.length ? "#b7791f" : "#1a7f37"});
  if (!current()) return;
  const title = v.error ?? [
    v.sign ? t("tb_compose_will_sign") : t("tb_compose_not_signed"),
    v.encrypt ? t("tb_compose_will_encrypt") : t("tb_compose_not_encrypted"),
    ...(v.cannotEncrypt.length ? [t("tb_compose_cannot_encrypt", [v.cannotEncrypt.join(", ")])] : []),
  ].join("\n");
  await action.setTitle({tabId, title});
}

export async function composeView(client: HostClient, tabId: number): Promise<ComposeView> {
  await refreshRecipients(client, tabId).catch(() => undefined);
  return view(tabId);
}

export async function setToggles(client: HostClient, tabId: number, toggles: {sign?: boolean; encrypt?: boolean}): Promise<ComposeView> {
  const s = await stateOf(tabId);
  if (typeof toggles.sign === "boolean") s.sign = toggles.sign;
  if (typeof toggles.encrypt === "boolean") s.encrypt = toggles.encrypt;
  s.error = undefined;
  await showOnAction(tabId);
  return composeView(client, tabId);
}

/** A send stopped before anything went out, with the whole sentence for the user. */
class Refusal extends Error {}

/** Signs or encrypts what Thunderbird built and sends it; throws an Error whose message is for the user. */
async function sendProtected(client: HostClient, tabId: number, details: ComposeDetails, v: ComposeView): Promise<void> {
  // Thunderbird's own S/MIME or OpenPGP stays off for this message (only set when the identity has
  // it), and is switched back as it was when the protected send fails: the user may send again.
  const technology = details.selectedEncryptionTechnology;
  if (technology) {
    await messenger.compose.setComposeDetails(tabId, {
      selectedEncryptionTechnology: {name: technology.name, encryptBody: false, signMessage: false},
    }).catch(() => undefined);
  }
  try {
    await buildAndSend(client, tabId, details, v);
  } catch (error) {
    if (technology) {
      await messenger.compose.setComposeDetails(tabId, {
        selectedEncryptionTechnology: {name: technology.name, encryptBody: technology.encryptBody ?? false, signMessage: technology.signMessage ?? false},
      }).catch(() => undefined);
    }
    throw error;
  }
}

async function buildAndSend(client: HostClient, tabId: number, details: ComposeDetails, v: ComposeView): Promise<void> {
  const rawsend = messenger.smimeRawSend!;
  const identityId = details.identityId!;
  const built = await rawsend.build(tabId);
  // The recipients are those of the built message: Thunderbird has expanded address-book lists
  // there, which the compose details still name as lists.
  const header = headerRecipients(atob(built));
  const bccEntries = header.hasBcc ? [] : Array.isArray(details.bcc) ? details.bcc : splitAddresses(details.bcc ?? "");
  const unresolved = [...header.unresolved, ...bccEntries.filter((e) => !addressOf(e).includes("@"))];
  if (unresolved.length) throw new Refusal(t("tb_compose_unresolved", [unresolved.join(", ")]));
  const {to, cc} = header;
  const bcc = header.hasBcc ? header.bcc : addressList(bccEntries);
  if (v.encrypt) {
    // The compose check saw the unexpanded recipients; the members of a list are checked here.
    const status = await client.request<{recipients: {address: string; can_encrypt: boolean}[]}>(
      "recipients.status", {addresses: [...new Set([...to, ...cc, ...bcc])]});
    const missing = status.recipients.filter((r) => !r.can_encrypt).map((r) => r.address);
    if (missing.length) throw new Refusal(t("tb_compose_cannot_encrypt_send", [missing.join(", ")]));
  }
  const related = details.relatedMessageId !== undefined && /^(reply|forward)/.test(details.type ?? "")
    ? {relatedMessageId: details.relatedMessageId, disposition: (details.type!.startsWith("reply") ? "replied" : "forwarded") as "replied" | "forwarded"}
    : {};
  // Messages stay base64 from Thunderbird to the host and back to Thunderbird.
  const copies: {mime: string; recipients: string[]; saveCopy: boolean}[] = [];
  if (v.encrypt) {
    const main = await client.request<{mime: string; bcc: string[]}>("message.encrypt",
      {mime: built, sign: v.sign, recipients: [...to, ...cc]}, {payloads: ["mime"]});
    copies.push({mime: main.mime, recipients: [...to, ...cc], saveCopy: true});
    // One CMS object names all its recipients: each Bcc recipient gets a copy of their own.
    for (const address of bcc) {
      const own = await client.request<{mime: string}>("message.encrypt",
        {mime: built, sign: v.sign, recipients: [address]}, {payloads: ["mime"]});
      copies.push({mime: own.mime, recipients: [address], saveCopy: false});
    }
  } else {
    // Signed only, every recipient gets the same copy: it must not name the Bcc recipients.
    const signed = await client.request<{mime: string}>("message.sign", {mime: btoa(removeField(atob(built), "bcc"))}, {payloads: ["mime"]});
    copies.push({mime: signed.mime, recipients: [...to, ...cc, ...bcc], saveCopy: true});
  }
  for (const copy of copies) {
    await rawsend.send(identityId, copy.mime, {recipients: copy.recipients, saveCopy: copy.saveCopy, ...(copy.saveCopy ? related : {})});
  }
}

async function onBeforeSend(client: HostClient, tabId: number, details: ComposeDetails): Promise<{cancel?: boolean}> {
  const s = await refreshRecipients(client, tabId, details).catch(() => stateOf(tabId));
  const v = await view(tabId);
  if (!v.sign && !v.encrypt) return {};
  let error: string | undefined;
  if (!v.canSend) {
    error = v.unavailableReason;
  } else if (v.encrypt && v.cannotEncrypt.length) {
    error = t("tb_compose_cannot_encrypt_send", [v.cannotEncrypt.join(", ")]);
  } else {
    s.sending = true;
    s.error = undefined;
    try {
      await sendProtected(client, tabId, details, v);
    } catch (e) {
      const shape = toShape(e);
      error = e instanceof Refusal ? e.message : t("tb_send_failed", [shape.message || shape.code]);
    } finally {
      s.sending = false;
    }
  }
  if (error) {
    s.error = error;
    await showOnAction(tabId);
    await messenger.composeAction.openPopup?.().catch(() => undefined);
    return {cancel: true};
  }
  // Sent: drop the plaintext drafts Thunderbird autosaved for this message, then close the window.
  if (s.autosaved.size) await messenger.messages.delete([...s.autosaved], {deletePermanently: true}).catch(() => undefined);
  states.delete(tabId);
  setTimeout(() => void messenger.tabs.remove(tabId).catch(() => undefined), 0);
  return {cancel: true};
}

export function startCompose(client: HostClient): void {
  messenger.compose.onBeforeSend.addListener((tab, details) => onBeforeSend(client, tab.id, details));
  messenger.compose.onAfterSave.addListener((tab, info) => {
    if (info.mode !== "autoSave") return;
    void stateOf(tab.id).then((s) => info.messages.forEach((m) => s.autosaved.add(m.id)));
  });
  messenger.tabs.onRemoved.addListener((tabId) => {
    states.delete(tabId);
    painting.delete(tabId);
    paintings.delete(tabId);
  });
  // No API reports recipient changes: look at the open compose tabs once a second.
  const poll = async (): Promise<void> => {
    try {
      await lookAtComposeTabs(client);
    } finally {
      setTimeout(() => void poll(), POLL_MS);
    }
  };
  void poll();
}

/**
 * One look at every open compose tab: asks about recipients that changed and updates the tab's
 * compose action. A call that never answers (a window that is closing, a host that is restarting)
 * holds up neither the other tabs nor the next look: each tab's turn ends after LOOK_MS.
 */
export async function lookAtComposeTabs(client: HostClient, lookMs = LOOK_MS): Promise<void> {
  const tabs = await within(messenger.tabs.query({type: "messageCompose"}), lookMs).catch(() => []);
  for (const tab of tabs) {
    await within((async () => {
      const s = await refreshRecipients(client, tab.id, undefined, true).catch(() => null);
      if (s && !s.sending) await showOnAction(tab.id).catch(() => undefined);
    })(), lookMs).catch(() => undefined);
  }
}
