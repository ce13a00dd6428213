// SPDX-License-Identifier: MIT
// Reading in Thunderbird: a displayed or selected message that is signed or encrypted is read raw,
// handed to the host (which also learns the signer's certificate: automatic key exchange), and its
// verdict shown in the message display action and, through the display script, as a banner in the
// message. A message Thunderbird cannot decrypt opens in the add-on's reader, which keeps the
// plaintext in memory only.

import type {HostClient} from "../host/client.js";
import {toShape} from "../host/errors.js";
import type {OpenedMessage, VerificationStatus} from "../host/types.js";
import {describeStatus} from "../reader/verdict.js";
import {t} from "../common/i18n.js";
import {api} from "../platform/index.js";
import {type MessageHeader, type MessageList, messenger} from "./messenger.js";
import {protectionOf, stripMozillaFields, type Protection} from "./mime.js";
import {DisplayedMessages, type Ticket} from "./sequence.js";

/** What the add-on knows about one message; the plaintext is not kept. */
export interface Reading {
  messageId: number;
  protection: Protection;
  status?: VerificationStatus;
  error?: {code: string; message: string};
  /** Thunderbird could not decrypt it, so it was handed to the reader. */
  openedInReader?: boolean;
}

const readings = new Map<number, Promise<Reading | null>>();
const READINGS_KEPT = 200;
/** Messages already handed to the reader this session (selecting one again does not reopen it). */
const handedToReader = new Set<number>();

function listOf(value: MessageList | MessageHeader[] | undefined): MessageHeader[] {
  if (!value) return [];
  return Array.isArray(value) ? value : value.messages;
}

async function read(client: HostClient, messageId: number): Promise<Reading | null> {
  const raw = stripMozillaFields(await messenger.messages.getRaw(messageId, {data_format: "BinaryString", decrypt: false}));
  const protection = protectionOf(raw);
  if (protection === "none") return null;
  const reading: Reading = {messageId, protection};
  try {
    const op = protection === "encrypted" ? "message.decrypt" : "message.verify";
    const opened = await client.request<OpenedMessage>(op, {mime: btoa(raw)}, {payloads: ["mime"]});
    reading.status = opened.status;
  } catch (error) {
    const shape = toShape(error);
    reading.error = {code: shape.code, message: shape.message};
  }
  if (protection === "encrypted" && !handedToReader.has(messageId)) {
    // Thunderbird shows its own error page for what it cannot decrypt, and no display script
    // runs there; the reader shows the message instead, without writing plaintext anywhere.
    const full = await messenger.messages.getFull(messageId).catch(() => null);
    if (full?.decryptionStatus === "fail" && reading.status) {
      handedToReader.add(messageId);
      reading.openedInReader = true;
      await openInReader(btoa(raw));
    }
  }
  return reading;
}

let openInReader: (mime: string) => Promise<void> = async () => undefined;

/** The reading of a message, from the host once per message (kept for the session, bounded). */
export function readingOf(client: HostClient, messageId: number): Promise<Reading | null> {
  let r = readings.get(messageId);
  if (!r) {
    r = read(client, messageId).catch((error) => ({messageId, protection: "none" as const, error: toShape(error)}));
    readings.set(messageId, r);
    if (readings.size > READINGS_KEPT) readings.delete(readings.keys().next().value as number);
  }
  return r;
}

const ICONS = {good: "icons/verdict-good.png", warning: "icons/verdict-warning.png", bad: "icons/verdict-bad.png", neutral: "icons/icon-48.png"};
const BADGE = {good: "✓", warning: "!", bad: "✗", neutral: ""};
const COLOURS = {good: "#1a7f37", warning: "#b7791f", bad: "#c62828", neutral: "#555555"};

const displayed = new DisplayedMessages();
const painting = new Map<number, Promise<void>>();

/**
 * Shows a reading on the message display action of a tab, for the message the ticket names.
 * Paints run one after another per tab, and each setter runs only while the ticket is still the
 * tab's latest: a slow reading of a message left behind never paints over the one shown now.
 */
function showOnAction(ticket: Ticket, reading: Reading | null): Promise<void> {
  const next = (painting.get(ticket.tabId) ?? Promise.resolve()).then(() => paint(ticket, reading)).catch(() => undefined);
  painting.set(ticket.tabId, next);
  return next;
}

async function paint(ticket: Ticket, reading: Reading | null): Promise<void> {
  const tabId = ticket.tabId;
  const action = messenger.messageDisplayAction;
  // Everything is worked out first; the awaits below only set it.
  let steps: (() => Promise<void>)[];
  if (!reading) {
    steps = [
      () => action.disable(tabId),
      () => action.setIcon({tabId, path: ICONS.neutral}),
      () => action.setBadgeText({tabId, text: ""}),
      () => action.setTitle({tabId, title: t("tb_not_protected")}),
    ];
  } else {
    let tone: keyof typeof ICONS = "bad";
    let title = t("tb_action_error", [reading.error?.message ?? ""]);
    if (!reading.error && reading.status) {
      const banner = describeStatus(reading.status, t);
      tone = banner.tone;
      title = [banner.headline, ...banner.signatures.map((s) => `${s.signer}: ${s.text}`)].join("\n");
    }
    steps = [
      () => action.enable(tabId),
      () => action.setIcon({tabId, path: ICONS[tone]}),
      () => action.setBadgeText({tabId, text: BADGE[tone]}),
      () => action.setBadgeBackgroundColor({tabId, color: COLOURS[tone]}),
      () => action.setTitle({tabId, title}),
    ];
  }
  for (const step of steps) {
    if (!displayed.isCurrent(ticket)) return;
    await step();
  }
}

/** The message shown in a tab, when it is exactly one. */
async function displayedIn(tabId: number): Promise<number | null> {
  const list = listOf(await messenger.messageDisplay.getDisplayedMessages(tabId).catch(() => undefined));
  return list.length === 1 ? list[0].id : null;
}

/** Reading of the message displayed or selected in a tab (for the popup), with its message id. */
export async function readingForTab(client: HostClient, tabId: number): Promise<{messageId: number | null; reading: Reading | null}> {
  const messageId = (await displayedIn(tabId)) ?? displayed.messageOf(tabId);
  return {messageId, reading: messageId === null ? null : await readingOf(client, messageId)};
}

async function onMessages(client: HostClient, tabId: number, messages: MessageHeader[]): Promise<void> {
  const ticket = displayed.select(tabId, messages.length === 1 ? messages[0].id : null);
  const reading = ticket.messageId === null ? null : await readingOf(client, ticket.messageId);
  if (displayed.isCurrent(ticket)) await showOnAction(ticket, reading);
}

export function startReading(client: HostClient, openReader: (mime: string) => Promise<void>): void {
  openInReader = openReader;
  messenger.messageDisplay.onMessagesDisplayed.addListener((tab, displayed) => {
    void onMessages(client, tab.id, listOf(displayed));
  });
  // Still fires when Thunderbird cannot decrypt (its error page stops onMessagesDisplayed).
  messenger.mailTabs.onSelectedMessagesChanged.addListener((tab, selected) => {
    void onMessages(client, tab.id, listOf(selected));
  });
  messenger.tabs.onRemoved.addListener((tabId) => {
    displayed.forget(tabId);
    painting.delete(tabId);
  });
  // The banner brings its own styles inside a closed shadow root: no style sheet goes into messages.
  void messenger.scripting.messageDisplay.registerScripts([
    {id: "smime-banner", js: ["banner.js"], runAt: "document_end"},
  ]).catch(() => undefined);
  // The banner script asks over a port which verdict its message has. Its port lives as long as its
  // document: the message is pinned when the request arrives (the one that document displays), and
  // the reply names it and goes out only while that port is open and the tab still displays it.
  api.runtime.onConnect.addListener((port) => {
    const tabId = port.sender?.tab?.id;
    if (port.name !== "smime-banner" || tabId === undefined) return;
    let open = true;
    port.onDisconnect.addListener(() => (open = false));
    port.onMessage.addListener(async () => {
      const messageId = await displayedIn(tabId);
      if (messageId === null) return;
      const reading = await readingOf(client, messageId).catch(() => null);
      if (open && reading && (await displayedIn(tabId)) === messageId) port.postMessage({messageId, reading});
    });
  });
}
