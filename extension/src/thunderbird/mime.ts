// SPDX-License-Identifier: MIT
// Small, browser-independent steps on raw messages (binary strings) for the Thunderbird add-on:
// dropping the X-Mozilla-* lines Thunderbird puts before a stored message, telling what protection
// a message has, removing a header field, and taking the address out of a recipient entry.

/** Thunderbird's mbox bookkeeping fields (getRaw of a local message starts with them). */
const MOZILLA_FIELD = /^X-Mozilla-(Status|Status2|Keys):/i;

function headerEnd(raw: string): number {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  if (crlf < 0) return lf < 0 ? raw.length : lf + 1;
  if (lf < 0) return crlf + 2;
  return Math.min(crlf + 2, lf + 1);
}

/** The header's fields, each with its continuation lines and its line end. */
function splitFields(header: string): string[] {
  const lines = header.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const fields: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return fields;
}

/** Removes header fields whose whole line matches `drop`; the body is untouched. */
function filterHeader(raw: string, drop: (field: string) => boolean): string {
  const end = headerEnd(raw);
  return splitFields(raw.slice(0, end)).filter((f) => !drop(f)).join("") + raw.slice(end);
}

/** The message as it was received: without Thunderbird's X-Mozilla-Status/Status2/Keys fields. */
export function stripMozillaFields(raw: string): string {
  return filterHeader(raw, (f) => MOZILLA_FIELD.test(f));
}

/** Removes every field of this name (case-insensitive) from the header. */
export function removeField(raw: string, name: string): string {
  const prefix = name.toLowerCase() + ":";
  return filterHeader(raw, (f) => f.toLowerCase().startsWith(prefix));
}

/** An unfolded header field's value, or "" when absent. */
export function fieldValue(raw: string, name: string): string {
  const prefix = name.toLowerCase() + ":";
  const field = splitFields(raw.slice(0, headerEnd(raw))).find((f) => f.toLowerCase().startsWith(prefix));
  return field ? field.slice(prefix.length).replace(/\r?\n[ \t]/g, " ").trim() : "";
}

export type Protection = "encrypted" | "signed" | "none";

/** What the top level says: S/MIME enveloped (or opaque signed) data, multipart/signed, or nothing. */
export function protectionOf(raw: string): Protection {
  const type = fieldValue(raw, "content-type").toLowerCase();
  if (/^application\/(x-)?pkcs7-mime/.test(type)) return /smime-type\s*=\s*"?signed-data/.test(type) ? "signed" : "encrypted";
  if (/^multipart\/signed/.test(type) && /pkcs7-signature/.test(type)) return "signed";
  return "none";
}

/** "Alice <alice@example.com>" -> "alice@example.com"; a bare address stays as it is. */
export function addressOf(entry: string): string {
  const angle = /<([^<>]+)>\s*$/.exec(entry);
  return (angle ? angle[1] : entry).trim().toLowerCase();
}

/** Recipient fields of ComposeDetails come as arrays or a comma list. */
export function addressList(value: string[] | string | undefined): string[] {
  const list = Array.isArray(value) ? value : value ? value.split(",") : [];
  return list.map(addressOf).filter((a) => a.includes("@"));
}
