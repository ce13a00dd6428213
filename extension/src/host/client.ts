// SPDX-License-Identifier: MIT
// The client for smime-host over one runtime.connectNative port: requests by id, payload chunking
// in both directions (docs/protocol.md section 4), timeouts, reconnect after the host exits, and
// typed errors. It never logs or stores payloads: they may be plaintext.

import {decodedLength, fromBase64, toBase64} from "./base64.js";
import {HostError} from "./errors.js";

/** The part of a runtime.Port the client uses, so tests can give it a fake. */
export interface NativePort {
  postMessage(message: unknown): void;
  disconnect(): void;
  onMessage: {addListener(listener: (message: unknown) => void): void};
  onDisconnect: {addListener(listener: () => void): void};
}

export type HostState = "idle" | "connected" | "not_installed" | "exited";

export interface ClientOptions {
  /** Opens a port to the host (runtime.connectNative(name)). */
  connect: () => NativePort;
  /** Why the last port closed (runtime.lastError?.message or port.error?.message). */
  disconnectReason: (port: NativePort) => string | undefined;
  /** Whether a disconnect reason means "host not installed". */
  isHostMissing: (reason: string | undefined) => boolean;
  /** Base timeout for a request, ms (default 30 s); payloads add time per MiB. */
  timeoutMs?: number;
  /** Base64 characters per chunk frame (default 1,024,000 = 768,000 bytes). */
  chunkChars?: number;
}

export interface RequestOptions {
  /** Names of arguments that are payloads (base64 strings): chunked when large. */
  payloads?: string[];
  timeoutMs?: number;
}

/** Raw chunk size the protocol recommends: 768,000 bytes (a multiple of 3) as 1,024,000 base64
 * characters, so every chunk decodes on its own and every frame stays under 1 MiB. */
export const CHUNK_CHARS = 1_024_000;
const MS_PER_MIB = 5_000;

interface ChunkRef {
  field: string;
  chunks: number;
  size: number | undefined;
  parts: string[];
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: HostError) => void;
  timer: ReturnType<typeof setTimeout>;
  result?: Record<string, unknown>;
  refs?: ChunkRef[];
}

function isChunkRef(value: unknown): value is {chunks: number; size?: number} {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.chunks === "number" && Object.keys(v).every((k) => k === "chunks" || k === "size");
}

/** Joins chunk strings into one base64 string. Chunks carry whole 3-byte groups except the last,
 * so they join as they are; if a sender padded in the middle, decode and re-encode instead. */
function joinChunks(parts: string[]): string {
  const paddedInside = parts.slice(0, -1).some((p) => p.length % 4 !== 0 || p.endsWith("="));
  if (!paddedInside) return parts.join("");
  const decoded = parts.map(fromBase64);
  const all = new Uint8Array(decoded.reduce((n, d) => n + d.length, 0));
  let offset = 0;
  for (const d of decoded) {
    all.set(d, offset);
    offset += d.length;
  }
  return toBase64(all);
}

export class HostClient {
  private readonly options: Required<Omit<ClientOptions, "connect" | "disconnectReason" | "isHostMissing">> &
    ClientOptions;
  private port: NativePort | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private currentState: HostState = "idle";
  private lastReason: string | undefined;
  private readonly listeners = new Set<(state: HostState) => void>();

  constructor(options: ClientOptions) {
    this.options = {timeoutMs: 30_000, chunkChars: CHUNK_CHARS, ...options};
  }

  get state(): HostState {
    return this.currentState;
  }

  /** The browser's words for the last disconnect (for a details view). */
  get reason(): string | undefined {
    return this.lastReason;
  }

  onStateChange(listener: (state: HostState) => void): void {
    this.listeners.add(listener);
  }

  /** Sends one request and resolves with its result (payload results as base64 strings), or
   * rejects with a HostError carrying the host's code or a client code. */
  request<R = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}, request: RequestOptions = {}): Promise<R> {
    const id = "r" + this.nextId++;
    const sendArgs: Record<string, unknown> = {...args};
    let chunked: {field: string; text: string} | null = null;
    let payloadChars = 0;
    for (const field of request.payloads ?? []) {
      const value = args[field];
      if (typeof value !== "string") continue;
      payloadChars += value.length;
      if (value.length <= this.options.chunkChars) continue;
      if (value.length % 4 !== 0) return Promise.reject(new HostError("ERR_BAD_REQUEST", `payload ${field} is not base64`));
      if (chunked) return Promise.reject(new HostError("ERR_BAD_REQUEST", "only one chunked payload per request"));
      const chunks = Math.ceil(value.length / this.options.chunkChars);
      sendArgs[field] = {chunks, size: decodedLength(value)};
      chunked = {field, text: value};
    }
    const timeoutMs = (request.timeoutMs ?? this.options.timeoutMs) + Math.ceil(payloadChars / (1 << 20)) * MS_PER_MIB;

    let port: NativePort;
    try {
      port = this.ensurePort();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new HostError("ERR_TIMEOUT", `no reply to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {resolve: resolve as (r: unknown) => void, reject, timer});
      try {
        port.postMessage({id, op, args: sendArgs});
        if (chunked) {
          const size = this.options.chunkChars;
          for (let i = 0, n = 0; i < chunked.text.length; i += size, n++) {
            port.postMessage({id, chunk: n, data: chunked.text.slice(i, i + size)});
          }
        }
      } catch (error) {
        // The port closed between ensurePort and here; onDisconnect rejects the others.
        this.settle(id, new HostError("ERR_HOST_EXITED", String((error as Error)?.message ?? error)));
      }
    });
  }

  /** Closes the port (the host exits on end of input); pending requests fail. */
  close(): void {
    const port = this.port;
    if (!port) return;
    this.port = null;
    port.disconnect();
    this.failAll(new HostError("ERR_HOST_EXITED", "closed by the extension"));
    this.setState("idle");
  }

  private ensurePort(): NativePort {
    if (this.port) return this.port;
    let port: NativePort;
    try {
      port = this.options.connect();
    } catch (error) {
      // Some browsers throw at once when the host is not registered.
      const reason = String((error as Error)?.message ?? error);
      this.lastReason = reason;
      this.setState("not_installed");
      throw new HostError("ERR_HOST_NOT_INSTALLED", reason);
    }
    this.port = port;
    port.onMessage.addListener((message) => this.onMessage(message));
    port.onDisconnect.addListener(() => this.onDisconnect(port));
    this.setState("connected");
    return port;
  }

  private onDisconnect(port: NativePort): void {
    if (this.port !== port) return;
    this.port = null;
    const reason = this.options.disconnectReason(port);
    this.lastReason = reason;
    const missing = this.options.isHostMissing(reason);
    this.setState(missing ? "not_installed" : "exited");
    this.failAll(new HostError(missing ? "ERR_HOST_NOT_INSTALLED" : "ERR_HOST_EXITED", reason ?? "the host exited"));
  }

  private onMessage(raw: unknown): void {
    if (typeof raw !== "object" || raw === null) return;
    const message = raw as Record<string, unknown>;
    const id = typeof message.id === "string" ? message.id : null;
    const pending = id === null ? undefined : this.pending.get(id);
    if ("chunk" in message) {
      if (!pending?.refs || id === null) return;  // chunks of an abandoned request
      this.onChunk(id, pending, message);
      return;
    }
    if (!pending || id === null) return;  // a late reply after a timeout, or an id-less framing error
    if (message.ok !== true) {
      const error = (message.error ?? {}) as {code?: string; message?: string; details?: Record<string, unknown>};
      this.settle(id, new HostError(error.code ?? "ERR_INTERNAL", error.message ?? "", error.details ?? {}));
      return;
    }
    const result = (message.result ?? {}) as Record<string, unknown>;
    const refs: ChunkRef[] = [];
    for (const [field, value] of Object.entries(result)) {
      if (isChunkRef(value)) refs.push({field, chunks: value.chunks, size: value.size, parts: []});
    }
    if (refs.length === 0 || refs.every((r) => r.chunks === 0)) {
      for (const r of refs) result[r.field] = "";
      this.settle(id, null, result);
      return;
    }
    pending.result = result;
    pending.refs = refs;
  }

  private onChunk(id: string, pending: Pending, message: Record<string, unknown>): void {
    const refs = pending.refs!;
    const ref = refs.find((r) => r.parts.length < r.chunks);
    if (!ref) return;
    if (message.chunk !== ref.parts.length || typeof message.data !== "string") {
      this.settle(id, new HostError("ERR_BAD_FRAME", `chunk ${String(message.chunk)} out of order`));
      return;
    }
    ref.parts.push(message.data);
    if (ref.parts.length < ref.chunks) return;
    const joined = joinChunks(ref.parts);
    if (ref.size !== undefined && decodedLength(joined) !== ref.size) {
      this.settle(id, new HostError("ERR_BAD_FRAME", `payload ${ref.field} has ${decodedLength(joined)} bytes, not ${ref.size}`));
      return;
    }
    pending.result![ref.field] = joined;
    if (refs.every((r) => r.parts.length === r.chunks)) this.settle(id, null, pending.result);
  }

  private settle(id: string, error: HostError | null, result?: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(result);
  }

  private failAll(error: HostError): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  private setState(state: HostState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const listener of this.listeners) listener(state);
  }
}
