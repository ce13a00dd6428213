// SPDX-License-Identifier: MIT
// The background: owns the one port to the host (so one host process holds the unlocked store for
// every page), and answers the pages' requests from the table in messages.ts. It accepts requests
// only from this extension's own pages and never logs or stores what it forwards.

import {HostClient, type NativePort} from "../host/client.js";
import {toShape, HostError} from "../host/errors.js";
import {HOST_OPERATIONS, isKind, type PageReply, type PageRequest} from "../messages.js";
import {addGrant, listGrants, PageApi, removeGrant, syncContentScripts} from "../page-api/background.js";
import {isPageApiMessage} from "../page-api/wire.js";
import {api, HOST_NAME, isHostMissing, serveBackground, target} from "../platform/index.js";
import {handleThunderbird, startThunderbird} from "../thunderbird/background.js";

const client = new HostClient({
  connect: () => api.runtime.connectNative(HOST_NAME) as unknown as NativePort,
  // Chromium reports through runtime.lastError inside onDisconnect, Gecko on port.error.
  disconnectReason: (port) =>
    (port as unknown as {error?: {message?: string}}).error?.message ?? api.runtime.lastError?.message,
  isHostMissing,
});

const pageApi = new PageApi(client);

/** Messages handed to reader tabs, by one-time token; they live here only until the tab takes them. */
const readerInbox = new Map<string, string>();
const INBOX_SECONDS = 60;

/** Hands a raw message (base64) to a new reader tab. */
async function openReader(mime: string): Promise<{token: string}> {
  const token = crypto.randomUUID();
  readerInbox.set(token, mime);
  setTimeout(() => readerInbox.delete(token), INBOX_SECONDS * 1000);
  await api.tabs.create({url: api.runtime.getURL("pages/reader.html#" + token)});
  return {token};
}

function fromOwnPage(senderUrl: string | undefined, senderId: string | undefined): boolean {
  if (senderId !== api.runtime.id) return false;
  return typeof senderUrl === "string" && senderUrl.startsWith(api.runtime.getURL(""));
}

async function handle(request: PageRequest): Promise<unknown> {
  const args = (request.args ?? {}) as Record<string, unknown>;
  switch (request.kind) {
    case "host.state":
      return {state: client.state, reason: client.reason};
    case "reader.open": {
      if (typeof args.mime !== "string") throw new HostError("ERR_BAD_REQUEST", "mime must be base64");
      return openReader(args.mime);
    }
    case "reader.take": {
      const mime = readerInbox.get(String(args.token));
      readerInbox.delete(String(args.token));
      if (mime === undefined) throw new HostError("ERR_NOT_FOUND", "no message for this reader");
      return {mime};
    }
    case "viewer.take":
      return pageApi.take(String(args.token));
    case "grants.list":
      return {grants: await listGrants()};
    case "grants.add":
      pageApi.regranted(String(args.origin));
      return {grants: await addGrant(String(args.origin), typeof args.tabId === "number" ? args.tabId : undefined)};
    case "grants.remove":
      return {grants: await removeGrant(String(args.origin))};
    case "tb.reading":
    case "tb.compose.get":
    case "tb.compose.set":
      if (target !== "thunderbird") throw new HostError("ERR_BAD_REQUEST", "refused");
      return handleThunderbird(client, request.kind, args);
    default: {
      const entry = HOST_OPERATIONS[request.kind];
      return client.request(entry.op, args, {payloads: [...entry.payloads]});
    }
  }
}

serveBackground(async (message, senderUrl, senderId, sender): Promise<unknown> => {
  // Web pages reach the background only through the page API's content script.
  if (isPageApiMessage(message)) {
    return sender ? pageApi.handle(message, sender) : {ok: false, error: {code: "ERR_NOT_GRANTED", message: "refused"}};
  }
  const request = message as PageRequest;
  if (typeof message !== "object" || message === null || !isKind(request.kind) || !fromOwnPage(senderUrl, senderId)) {
    return {ok: false, error: {code: "ERR_BAD_REQUEST", message: "refused", details: {}}};
  }
  try {
    return {ok: true, result: await handle(request)} as PageReply;
  } catch (error) {
    return {ok: false, error: toShape(error)};
  }
});

// The content script follows the grants: at start-up, and whenever the user's grants or the
// administrator's policy change.
if (target !== "thunderbird") {
  void syncContentScripts();
  api.storage.onChanged.addListener((changes, area) => {
    if (area === "managed" || (area === "local" && "page_api_grants" in changes)) void syncContentScripts();
  });
}

if (target === "thunderbird") startThunderbird(client, async (mime) => void await openReader(mime));
