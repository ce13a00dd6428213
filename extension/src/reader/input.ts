// SPDX-License-Identifier: MIT
// What the reader does with a file the user gives it: a whole message (.eml) goes to the host as
// it is; a bare S/MIME object (smime.p7m, DER or base64) is wrapped into a minimal message first.
// It also decides from the top-level Content-Type whether the host decrypts or only verifies.

import {toBase64} from "../host/base64.js";

export type Operation = "message.decrypt" | "message.verify";

const HEADER_LINE = /^[!-9;-~]+:[ \t]?/;

/** True when the bytes start like an RFC 5322 message: header fields before a blank line. */
export function looksLikeMessage(bytes: Uint8Array): boolean {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 4096));
  const lines = head.split(/\r?\n/);
  return lines.length > 1 && HEADER_LINE.test(lines[0]) && !/^MII/.test(lines[0]);
}

/** Wraps a bare CMS object (RFC 8551 application/pkcs7-mime) so the host can open it. */
export function wrapSmimeObject(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 64)).trim();
  // base64 text already ("MII..." is the start of a DER SEQUENCE in base64)
  const body = /^MI/.test(text) ? new TextDecoder("latin1").decode(bytes) : toBase64(bytes).replace(/.{76}/g, "$&\r\n");
  const header =
    "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; name=smime.p7m\r\n" +
    "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\n";
  return new TextEncoder().encode(header + body.trim() + "\r\n");
}

/** The unfolded value of the first top-level header field `name`, lowercased, or "". */
export function headerValue(bytes: Uint8Array, name: string): string {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 65536));
  const end = head.search(/\r?\n\r?\n/);
  const unfolded = (end < 0 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, " ");
  const wanted = name.toLowerCase() + ":";
  for (const line of unfolded.split(/\r?\n/)) {
    if (line.toLowerCase().startsWith(wanted)) return line.slice(wanted.length).trim().toLowerCase();
  }
  return "";
}

/** Decrypt when the top level is an S/MIME object that is not signed-data; verify otherwise
 * (signed messages and unprotected ones, which the host reports as level "none"). */
export function operationFor(bytes: Uint8Array): Operation {
  const type = headerValue(bytes, "content-type");
  if (!/^application\/(x-)?pkcs7-mime/.test(type)) return "message.verify";
  return /smime-type\s*=\s*"?signed-data/.test(type) ? "message.verify" : "message.decrypt";
}
