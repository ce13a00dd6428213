// SPDX-License-Identifier: MIT
// The background half of the page API: which origins are granted (the user's grants in local
// storage, the administrator's in managed storage, the administrator's forbidden list winning
// over both), the content script registered for exactly those origins, and the handling of the
// content script's requests: the sender's exact origin checked on every request, the arguments
// checked again, per-origin rate limits, then the host operations. The page learns only what the
// contract allows; decrypted content goes to the viewer frame by a one-time token.

import {fromBase64, toBase64} from "../host/base64.js";
import type {HostClient} from "../host/client.js";
import {HostError, toShape, type ErrorShape} from "../host/errors.js";
import type {Identity, OpenedMessage, StoreStatus, VerificationStatus} from "../host/types.js";
import {api, originMatchPattern, startInTab} from "../platform/index.js";
import {operationFor} from "../reader/input.js";
import {DECRYPT_FAILURES_ALLOWED, DEFAULT_LIMITS, FailureBudget, RateLimiter} from "./limits.js";
import {summarize, withoutBcc} from "./mime.js";
import {checkRequest, exactOrigin, FEATURES, PAGE_API_VERSION, PageApiError, type PageRequest} from "./protocol.js";
import type {PageApiMessage, PageApiReply} from "./wire.js";

const GRANTS_KEY = "page_api_grants";
/** Managed storage keys (extension/managed_schema.json; docs/page-api.md). */
export const MANAGED_ORIGINS = "page_api_origins";
export const MANAGED_FORBIDDEN = "page_api_forbidden_origins";
const SCRIPT_ID = "smime-page-api";
const VIEWER_SECONDS = 60;
/** Bcc copies `protect` makes at most; each costs one request of the rate limit. */
export const MAX_BCC_COPIES = 100;
/** Failures that say nothing about the message (the store is locked, policy refuses): they do not
 * use up the origin's budget of decryption failures. */
const NOT_THE_MESSAGE = new Set(["ERR_LOCKED", "ERR_POLICY", "ERR_HOST_NOT_INSTALLED", "ERR_HOST_EXITED", "ERR_TIMEOUT"]);

export interface GrantEntry {
  origin: string;
  source: "user" | "policy";
  forbidden: boolean;
}

function origins(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return [...new Set(value.filter((v): v is string => typeof v === "string").map(exactOrigin).filter((o): o is string => o !== null))];
}

async function managed(): Promise<{granted: string[]; forbidden: string[]}> {
  try {
    const m = await api.storage.managed.get([MANAGED_ORIGINS, MANAGED_FORBIDDEN]);
    return {granted: origins(m[MANAGED_ORIGINS]), forbidden: origins(m[MANAGED_FORBIDDEN])};
  } catch {
    // No managed storage (no policy, or Gecko without a managed-storage manifest).
    return {granted: [], forbidden: []};
  }
}

async function userGrants(): Promise<string[]> {
  const stored = await api.storage.local.get(GRANTS_KEY);
  return origins(stored[GRANTS_KEY]);
}

/** Every grant with where it comes from and whether policy forbids it. */
export async function listGrants(): Promise<GrantEntry[]> {
  const [user, policy] = await Promise.all([userGrants(), managed()]);
  const forbidden = new Set(policy.forbidden);
  const entries: GrantEntry[] = policy.granted.map((origin) => ({origin, source: "policy", forbidden: forbidden.has(origin)}));
  for (const origin of user) {
    if (!policy.granted.includes(origin)) entries.push({origin, source: "user", forbidden: forbidden.has(origin)});
  }
  for (const origin of policy.forbidden) {
    if (!entries.some((e) => e.origin === origin)) entries.push({origin, source: "policy", forbidden: true});
  }
  return entries.sort((a, b) => a.origin.localeCompare(b.origin));
}

async function grantedOrigins(): Promise<Set<string>> {
  return new Set((await listGrants()).filter((e) => !e.forbidden).map((e) => e.origin));
}

let syncing: Promise<void> = Promise.resolve();

/** Registers the content script for exactly the granted origins (one registration, replaced). */
export function syncContentScripts(): Promise<void> {
  syncing = syncing.then(async () => {
    if (!api.scripting?.registerContentScripts) return;  // the Thunderbird build has no page API
    const granted = [...(await grantedOrigins())];
    const existing = await api.scripting.getRegisteredContentScripts({ids: [SCRIPT_ID]});
    if (existing.length) await api.scripting.unregisterContentScripts({ids: [SCRIPT_ID]});
    if (!granted.length) return;
    await api.scripting.registerContentScripts([{
      id: SCRIPT_ID,
      matches: [...new Set(granted.map(originMatchPattern))],
      js: ["page-api/content.js"],
      runAt: "document_start",
      allFrames: false,
    }]);
  }).catch((error) => console.error("page API: content script registration failed:", String(error)));
  return syncing;
}

/** The user allows `origin` (from the popup); the tab it was asked from gets the script now. */
export async function addGrant(text: string, tabId?: number): Promise<GrantEntry[]> {
  const origin = exactOrigin(text);
  if (!origin) throw new HostError("ERR_BAD_REQUEST", "not an http(s) origin");
  const policy = await managed();
  if (policy.forbidden.includes(origin)) throw new HostError("ERR_POLICY", "your organisation does not allow S/MIME on this site");
  const user = await userGrants();
  if (!user.includes(origin)) await api.storage.local.set({[GRANTS_KEY]: [...user, origin]});
  await syncContentScripts();
  if (typeof tabId === "number") {
    const tab = await api.tabs.get(tabId).catch(() => undefined);
    if (tab?.url && exactOrigin(tab.url) === origin) await startInTab(tabId).catch(() => undefined);
  }
  return listGrants();
}

export async function removeGrant(text: string): Promise<GrantEntry[]> {
  const origin = exactOrigin(text);
  const user = await userGrants();
  await api.storage.local.set({[GRANTS_KEY]: user.filter((o) => o !== origin)});
  await syncContentScripts();
  return listGrants();
}

type ViewerItem = {mime: string; status: VerificationStatus} | {error: ErrorShape};

/** The page API's request handling, over the extension's one host client. */
export class PageApi {
  private readonly limiter = new RateLimiter(DEFAULT_LIMITS);
  private readonly viewerInbox = new Map<string, ViewerItem>();
  private readonly decryptFailures = new FailureBudget();

  constructor(private readonly client: HostClient) {}

  /** The viewer frame takes what it was opened for, once. */
  take(token: string): ViewerItem {
    const item = this.viewerInbox.get(token);
    this.viewerInbox.delete(token);
    if (!item) throw new HostError("ERR_NOT_FOUND", "no message for this viewer");
    return item;
  }

  /** The user granted `origin` again: its budget of decryption failures is full again. */
  regranted(text: string): void {
    const origin = exactOrigin(text);
    if (origin) this.decryptFailures.reset(origin);
  }

  async handle(message: PageApiMessage, sender: chrome.runtime.MessageSender): Promise<PageApiReply> {
    const refuse: PageApiReply = {ok: false, error: {code: "ERR_NOT_GRANTED", message: "this site is not allowed"}};
    if (sender.id !== api.runtime.id || !sender.tab || sender.frameId !== 0) return refuse;
    // An opaque origin (a sandboxed or data: document) is refused; the URL is no substitute.
    if (!sender.origin || sender.origin === "null") return refuse;
    const origin = exactOrigin(sender.origin);
    if (!origin || !(await grantedOrigins()).has(origin)) return refuse;
    if (message.page_api === "hello") return {ok: true, result: {version: PAGE_API_VERSION, features: [...FEATURES]}};
    try {
      const request = checkRequest({id: 0, op: message.op, args: message.args}, "wire");
      const wait = this.limiter.take(origin, "requests", 1) ||
        (request.op === "recipients" ? this.limiter.take(origin, "addresses", (request.args.addresses as string[]).length) : 0);
      if (wait) throw new PageApiError("ERR_THROTTLED", `too many requests; try again in ${Math.ceil(wait / 1000)} s`);
      return {ok: true, result: await this.run(request, origin)};
    } catch (error) {
      return {ok: false, error: pageError(error)};
    }
  }

  private async run(request: PageRequest, origin: string): Promise<unknown> {
    const args = request.args;
    switch (request.op) {
      case "status": {
        const [store, list] = await Promise.all([
          this.client.request<StoreStatus>("keystore.status"),
          this.client.request<{identities: Identity[]}>("identities.list"),
        ]);
        const policy = store.policy;
        const enabled = !(policy?.in_force && (policy.error || (policy.effective as {enabled?: boolean} | undefined)?.enabled === false));
        const senders = new Set<string>();
        for (const identity of list.identities) if (identity.active) for (const a of identity.active_for) senders.add(a.toLowerCase());
        return {enabled, locked: store.protected && !store.unlocked, senders: [...senders].sort()};
      }
      case "recipients": {
        const addresses = args.addresses as string[];
        if (!addresses.length) return {recipients: []};
        const r = await this.client.request<{recipients: {address: string; can_encrypt: boolean}[]}>("recipients.status", {addresses});
        return {recipients: r.recipients.map((x) => ({address: x.address, can_encrypt: x.can_encrypt === true}))};
      }
      case "protect":
        return this.protect(origin, args.message as string, args.sign as boolean, args.encrypt as boolean);
      case "inspect": {
        const r = await this.client.request<{status: VerificationStatus}>("message.inspect", {mime: args.message}, {payloads: ["mime"]});
        return {level: r.status.level};
      }
      case "open":
        return this.open(origin, args.message as string);
    }
  }

  private async protect(origin: string, mime: string, sign: boolean, encrypt: boolean): Promise<unknown> {
    const payloads = {payloads: ["mime"]};
    if (!encrypt) {
      // RFC 5322 section 3.6.3: Bcc must not reach the To and Cc recipients; the host removes it
      // only when it encrypts, so a signed-only message loses it here, before it is signed.
      const r = await this.client.request<{mime: string}>("message.sign", {mime: toBase64(withoutBcc(fromBase64(mime)))}, payloads);
      return {message: r.mime, bcc: []};
    }
    const r = await this.client.request<{mime: string; bcc: string[]}>("message.encrypt", {mime, sign}, payloads);
    const addresses = r.bcc ?? [];
    if (addresses.length > MAX_BCC_COPIES) throw new PageApiError("ERR_BAD_REQUEST", `at most ${MAX_BCC_COPIES} Bcc recipients`);
    const bcc = [];
    for (const address of addresses) {
      const wait = this.limiter.take(origin, "requests", 1);
      if (wait) throw new PageApiError("ERR_THROTTLED", `too many requests; try again in ${Math.ceil(wait / 1000)} s`);
      const copy = await this.client.request<{mime: string}>("message.encrypt", {mime, sign, recipients: [address]}, payloads);
      bcc.push({address, message: copy.mime});
    }
    return {message: r.mime, bcc};
  }

  private async open(origin: string, mime: string): Promise<unknown> {
    const token = crypto.randomUUID();
    const operation = operationFor(fromBase64(mime));
    const encrypted = operation === "message.decrypt";
    try {
      if (encrypted && !this.decryptFailures.take(origin)) {
        throw new HostError("ERR_THROTTLED", `this site made ${DECRYPT_FAILURES_ALLOWED} messages fail to decrypt; ` +
          "it may open encrypted messages again once the user allows it again (or after a browser restart)",
          {reason: "decrypt_failures"});
      }
      let opened: OpenedMessage;
      try {
        opened = await this.client.request<OpenedMessage>(operation, {mime}, {payloads: ["mime"]});
      } catch (error) {
        if (encrypted && NOT_THE_MESSAGE.has(toShape(error).code)) this.decryptFailures.giveBack(origin);
        throw error;
      }
      if (encrypted) this.decryptFailures.giveBack(origin);
      this.store(token, {mime: opened.mime, status: opened.status});
      return {token, summary: summarize(opened.status)};
    } catch (error) {
      this.store(token, {error: toShape(error)});
      return {token, error: pageError(error)};
    }
  }

  /** Keeps an item for the viewer; the clock starts now, when the result exists, so plaintext
   * never stays longer than VIEWER_SECONDS however long the host took. */
  private store(token: string, item: ViewerItem): void {
    this.viewerInbox.set(token, item);
    setTimeout(() => this.viewerInbox.delete(token), VIEWER_SECONDS * 1000);
  }
}

/** What a page sees of an error: the code and the human message, no details. Private-key
 * operations refused by the organisation's `enabled: false` read as ERR_DISABLED. */
function pageError(error: unknown): {code: string; message: string} {
  if (error instanceof PageApiError) return {code: error.code, message: error.message};
  const shape = toShape(error);
  if (shape.code === "ERR_POLICY" && shape.details.key === "enabled") return {code: "ERR_DISABLED", message: shape.message};
  return {code: shape.code, message: shape.message};
}
