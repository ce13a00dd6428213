// SPDX-License-Identifier: MIT
// The client library a webmail includes (built on its own as dist/page-api/smime-webmail.js, which
// sets window.SmimeWebmail): the handshake with the extension's content script over window
// messages of the page's own origin, then promise-based requests over the private MessagePort it
// receives. Bytes are Uint8Array both ways. docs/page-api.md describes it.

import {PAGE_API_VERSION} from "./protocol.js";

/** An error from the extension or the host, with its stable code. */
export class SmimeWebmailError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "SmimeWebmailError";
    this.code = code;
  }
}

export interface ConnectOptions {
  /** How long to wait for the extension before ERR_NOT_GRANTED (default 2000 ms). */
  timeoutMs?: number;
  /** How long each request may take before ERR_TIMEOUT (default 120000 ms). */
  requestTimeoutMs?: number;
  /** The window to talk through (default: the global window; for tests). */
  window?: Window;
}

export interface Status {
  enabled: boolean;
  locked: boolean;
  senders: string[];
}

export interface Protected {
  message: Uint8Array;
  bcc: {address: string; message: Uint8Array}[];
}

export interface OpenResult {
  level: string;
  verdict: string | null;
  signer: {name: string | null; email: string | null} | null;
  encrypted: boolean;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: SmimeWebmailError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const HELLO_EVERY_MS = 200;

export class SmimeWebmailApi {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly port: MessagePort, readonly version: number, readonly features: string[],
    private readonly requestTimeoutMs: number, private readonly win: Window) {
    port.onmessage = (event) => this.onReply(event.data);
  }

  status(): Promise<Status> {
    return this.request("status", {}) as Promise<Status>;
  }

  recipients(addresses: string[]): Promise<{recipients: {address: string; can_encrypt: boolean}[]}> {
    return this.request("recipients", {addresses}) as Promise<{recipients: {address: string; can_encrypt: boolean}[]}>;
  }

  protect(message: Uint8Array, options: {sign: boolean; encrypt: boolean}): Promise<Protected> {
    return this.request("protect", {message, sign: options?.sign, encrypt: options?.encrypt}) as Promise<Protected>;
  }

  inspect(message: Uint8Array): Promise<{level: string}> {
    return this.request("inspect", {message}) as Promise<{level: string}>;
  }

  /** Shows the message in the extension's viewer frame inside `container`; resolves with the
   * summary only. The container is marked with a random name the content script looks up. */
  open(message: Uint8Array, container: HTMLElement): Promise<OpenResult> {
    if (!container || typeof container.setAttribute !== "function") {
      return Promise.reject(new SmimeWebmailError("ERR_BAD_REQUEST", "container must be an element"));
    }
    let frame = container.getAttribute("data-smime-webmail-frame");
    if (!frame) {
      const bytes = new Uint8Array(12);
      (this.win.crypto ?? globalThis.crypto).getRandomValues(bytes);
      frame = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      container.setAttribute("data-smime-webmail-frame", frame);
    }
    return this.request("open", {message, frame}) as Promise<OpenResult>;
  }

  /** Closes the channel; pending requests fail with ERR_DISCONNECTED. */
  close(): void {
    this.port.close();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SmimeWebmailError("ERR_DISCONNECTED", "closed"));
      this.pending.delete(id);
    }
  }

  private request(op: string, args: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new SmimeWebmailError("ERR_TIMEOUT", `no answer to ${op}`));
      }, this.requestTimeoutMs);
      this.pending.set(id, {resolve, reject, timer});
      try {
        this.port.postMessage({id, op, args});
      } catch (error) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new SmimeWebmailError("ERR_BAD_REQUEST", String((error as Error)?.message ?? error)));
      }
    });
  }

  private onReply(data: unknown): void {
    if (typeof data !== "object" || data === null) return;
    const reply = data as {id?: unknown; ok?: unknown; result?: unknown; error?: {code?: unknown; message?: unknown}};
    if (typeof reply.id !== "number") return;
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok === true) p.resolve(reply.result);
    else p.reject(new SmimeWebmailError(String(reply.error?.code ?? "ERR_INTERNAL"), String(reply.error?.message ?? "")));
  }
}

/** Finds the extension: posts hello to this page's own origin until the content script answers
 * with a port, or rejects with ERR_NOT_GRANTED after the timeout (no content script runs on an
 * origin the user has not allowed). */
export function connect(options: ConnectOptions = {}): Promise<SmimeWebmailApi> {
  const win = options.window ?? (globalThis as unknown as {window: Window}).window;
  const timeoutMs = options.timeoutMs ?? 2000;
  const origin = win.location.origin;
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      clearInterval(hello);
      clearTimeout(timer);
      win.removeEventListener("message", listener);
    };
    const listener = (event: MessageEvent): void => {
      if (event.source !== win || event.origin !== origin) return;
      const data = event.data as {smime_webmail?: unknown; version?: unknown; features?: unknown} | null;
      if (!data || data.smime_webmail !== "port" || data.version !== PAGE_API_VERSION || !event.ports[0]) return;
      finish();
      const features = Array.isArray(data.features) ? data.features.filter((f): f is string => typeof f === "string") : [];
      resolve(new SmimeWebmailApi(event.ports[0], PAGE_API_VERSION, features, options.requestTimeoutMs ?? 120_000, win));
    };
    win.addEventListener("message", listener);
    const send = (): void => win.postMessage({smime_webmail: "hello", version: PAGE_API_VERSION}, origin);
    const hello = setInterval(send, HELLO_EVERY_MS);
    const timer = setTimeout(() => {
      finish();
      reject(new SmimeWebmailError("ERR_NOT_GRANTED", "the S/MIME extension is not installed or not allowed on this site"));
    }, timeoutMs);
    send();
  });
}

/** A page cannot grant itself access: the user allows the site from the extension's toolbar
 * button. This resolves at once when access is there, and rejects with ERR_NOT_GRANTED (saying
 * what the user should do) when it is not. */
export async function requestAccess(options: ConnectOptions = {}): Promise<SmimeWebmailApi> {
  try {
    return await connect(options);
  } catch {
    throw new SmimeWebmailError("ERR_NOT_GRANTED",
      "open the S/MIME extension's toolbar button on this page and choose \"Allow S/MIME\" for this site");
  }
}

export const SmimeWebmail = {version: PAGE_API_VERSION, connect, requestAccess, SmimeWebmailError};
