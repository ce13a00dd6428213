// SPDX-License-Identifier: MIT
// The page API's contract in one table (docs/page-api.md): its version, feature flags, error codes,
// the fields each operation takes and their types, and the strict check every request passes at
// the page boundary (content script) and again in the background. Anything not in the table, a
// missing field, an extra field or a field of the wrong type is refused with ERR_BAD_REQUEST.

export const PAGE_API_VERSION = 1;
export const FEATURES = ["status", "recipients", "protect", "inspect", "open"] as const;
export type Op = (typeof FEATURES)[number];

/** Codes only the page API raises; the host's codes pass through unchanged. */
export const PAGE_API_CODES = ["ERR_NOT_GRANTED", "ERR_BAD_REQUEST", "ERR_THROTTLED", "ERR_DISABLED"] as const;

/** Bounds a page cannot go past. 25 MiB of message stays, as base64 and once encrypted, under
 * the 64 MiB Chromium allows one runtime message between the content script and the background. */
export const LIMITS = {
  maxMessageBytes: 25 * 1024 * 1024,
  maxAddresses: 100,
  maxAddressLength: 320,
  maxIdLength: 64,
} as const;

/** Field types: `bytes` is a Uint8Array on the page side and base64 text between the content
 * script and the background (runtime messaging is JSON in Chromium); `frame` names the container
 * element the client library marked for `open`. */
export type FieldType = "bytes" | "boolean" | "addresses" | "frame";

export const OPERATIONS: Record<Op, Record<string, FieldType>> = {
  status: {},
  recipients: {addresses: "addresses"},
  protect: {message: "bytes", sign: "boolean", encrypt: "boolean"},
  inspect: {message: "bytes"},
  open: {message: "bytes", frame: "frame"},
};

export type Side = "page" | "wire";

export interface PageRequest {
  id: number | string;
  op: Op;
  args: Record<string, unknown>;
}

/** An error with a code a page can match on. */
export class PageApiError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "PageApiError";
    this.code = code;
  }
}

const bad = (message: string): PageApiError => new PageApiError("ERR_BAD_REQUEST", message);

/** A plain object of any realm: a page's objects reach a Gecko content script through Xray
 * wrappers whose prototype is the page's Object.prototype, not the script's own. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (Object.prototype.toString.call(value) !== "[object Object]") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** True for a Uint8Array of any realm (a page's array arrives through structured clone). */
export function isBytes(value: unknown): value is Uint8Array {
  return Object.prototype.toString.call(value) === "[object Uint8Array]";
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const FRAME = /^[A-Za-z0-9_-]{8,64}$/;
// An address as a compose box holds it: no control characters, no line breaks; the host parses it.
const isAddressText = (a: string): boolean => ![...a].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function checkField(name: string, type: FieldType, value: unknown, side: Side): void {
  switch (type) {
    case "boolean":
      if (typeof value !== "boolean") throw bad(`${name} must be a boolean`);
      return;
    case "frame":
      if (typeof value !== "string" || !FRAME.test(value)) throw bad(`${name} must name a container`);
      return;
    case "bytes":
      if (side === "page") {
        if (!isBytes(value)) throw bad(`${name} must be a Uint8Array`);
        if (value.length === 0 || value.length > LIMITS.maxMessageBytes) throw bad(`${name} must have 1 to ${LIMITS.maxMessageBytes} bytes`);
      } else {
        if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) throw bad(`${name} must be base64`);
        if (value.length === 0 || value.length > Math.ceil(LIMITS.maxMessageBytes / 3) * 4) throw bad(`${name} is too large`);
      }
      return;
    case "addresses":
      if (!Array.isArray(value)) throw bad(`${name} must be an array of strings`);
      if (value.length > LIMITS.maxAddresses) throw bad(`${name} may hold at most ${LIMITS.maxAddresses} addresses`);
      for (const a of value) {
        if (typeof a !== "string" || a.length === 0 || a.length > LIMITS.maxAddressLength || !isAddressText(a)) {
          throw bad(`${name} must be an array of addresses`);
        }
      }
      return;
  }
}

/** Checks a request against the table; returns it typed or throws PageApiError(ERR_BAD_REQUEST). */
export function checkRequest(raw: unknown, side: Side): PageRequest {
  if (!isPlainObject(raw)) throw bad("a request is an object");
  for (const key of Object.keys(raw)) if (key !== "id" && key !== "op" && key !== "args") throw bad(`unknown field ${key}`);
  const {id, op, args} = raw;
  const idOk = (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) ||
    (typeof id === "string" && id.length > 0 && id.length <= LIMITS.maxIdLength);
  if (!idOk) throw bad("id must be a non-negative integer or a short string");
  if (typeof op !== "string" || !Object.prototype.hasOwnProperty.call(OPERATIONS, op)) throw bad("unknown op");
  const fields = OPERATIONS[op as Op];
  const given = args === undefined ? {} : args;
  if (!isPlainObject(given)) throw bad("args must be an object");
  for (const key of Object.keys(given)) if (!Object.prototype.hasOwnProperty.call(fields, key)) throw bad(`unknown field args.${key}`);
  for (const [name, type] of Object.entries(fields)) {
    if (!(name in given)) throw bad(`args.${name} is required`);
    checkField(`args.${name}`, type, given[name], side);
  }
  if (op === "protect" && given.sign !== true && given.encrypt !== true) throw bad("protect needs sign or encrypt");
  return {id: id as number | string, op: op as Op, args: given};
}

/** True when `value` is a page's hello: exactly `{smime_webmail: "hello", version}`. */
export function isHello(value: unknown): boolean {
  return isPlainObject(value) && value.smime_webmail === "hello" && typeof value.version === "number" &&
    Object.keys(value).length === 2;
}

/** The exact origin (scheme://host[:port]) of an http(s) URL or origin, or null. */
export function exactOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password) return null;
  return url.origin;
}
