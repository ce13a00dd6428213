// SPDX-License-Identifier: MIT
// The part of Thunderbird's MailExtension API (`messenger`) the add-on uses, typed loosely: the
// one place that names Thunderbird-only namespaces, including the optional Experiment.

type Listener<A extends unknown[], R = void> = {addListener(f: (...args: A) => R): void};

export interface MessageHeader {
  id: number;
  subject: string;
  author: string;
  external?: boolean;
}
export interface MessageList {
  id: string | null;
  messages: MessageHeader[];
}
export interface ComposeDetails {
  identityId?: string;
  from?: string;
  to?: string[] | string;
  cc?: string[] | string;
  bcc?: string[] | string;
  type?: string;
  relatedMessageId?: number;
  selectedEncryptionTechnology?: {name: string; encryptBody?: boolean; signMessage?: boolean};
}
export interface Tab {
  id: number;
  windowId: number;
  type?: string;
  active?: boolean;
  mailTab?: boolean;
}
interface ActionApi {
  setTitle(d: {title: string; tabId?: number}): Promise<void>;
  setBadgeText(d: {text: string; tabId?: number}): Promise<void>;
  setBadgeBackgroundColor(d: {color: string; tabId?: number}): Promise<void>;
  setIcon(d: {path: string; tabId?: number}): Promise<void>;
  enable(tabId?: number): Promise<void>;
  disable(tabId?: number): Promise<void>;
  openPopup?(options?: {windowId?: number}): Promise<void>;
}

export interface Messenger {
  messages: {
    getRaw(id: number, options: {data_format: "BinaryString"; decrypt?: boolean}): Promise<string>;
    getFull(id: number, options?: {decrypt?: boolean}): Promise<{decryptionStatus?: string}>;
    delete(ids: number[], options?: {deletePermanently?: boolean}): Promise<void>;
  };
  messageDisplay: {
    onMessagesDisplayed: Listener<[Tab, MessageList | MessageHeader[]]>;
    getDisplayedMessages(tabId: number): Promise<MessageList | MessageHeader[]>;
  };
  mailTabs: {
    onSelectedMessagesChanged: Listener<[Tab, MessageList]>;
  };
  messageDisplayAction: ActionApi;
  composeAction: ActionApi;
  compose: {
    getComposeDetails(tabId: number): Promise<ComposeDetails>;
    setComposeDetails(tabId: number, details: Partial<ComposeDetails>): Promise<void>;
    onBeforeSend: Listener<[Tab, ComposeDetails], Promise<{cancel?: boolean}>>;
    onAfterSave: Listener<[Tab, {mode: string; messages: MessageHeader[]}]>;
  };
  scripting: {
    messageDisplay: {registerScripts(scripts: {id: string; js: string[]; css?: string[]; runAt?: string}[]): Promise<void>};
  };
  identities?: {get(id: string): Promise<{email: string} | null>};
  tabs: {
    query(q: Record<string, unknown>): Promise<Tab[]>;
    remove(id: number): Promise<void>;
    onRemoved: Listener<[number]>;
  };
  /** The add-on's Experiment (experiment/schema.json): absent when Thunderbird does not load it. */
  smimeRawSend?: {
    /** The message the compose window would send, base64. */
    build(tabId: number): Promise<string>;
    /** Sends a finished message given as base64. */
    send(identityId: string, mime: string, envelope: {recipients: string[]; saveCopy: boolean; relatedMessageId?: number; disposition?: "replied" | "forwarded"}): Promise<void>;
  };
}

export const messenger = (globalThis as unknown as {messenger: Messenger}).messenger;

/** Whether the Experiment that builds and sends protected mail is there. */
export function canSendProtected(): boolean {
  return typeof messenger?.smimeRawSend?.send === "function";
}
