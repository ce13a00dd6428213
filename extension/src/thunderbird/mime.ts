// SPDX-License-Identifier: MIT
// Small, browser-independent steps on raw messages (binary strings) for the Thunderbird add-on:
// dropping the X-Mozilla-* lines Thunderbird puts before a stored message, telling what protection
// a message has, removing a header field, and taking the addresses out of recipient fields.

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
  const list = Array.isArray(value) ? value : value ? splitAddresses(value) : [];
  return list.map(addressOf).filter((a) => a.includes("@"));
}

/**
 * An address field's entries (RFC 5322 section 3.4): split at commas outside quoted strings,
 * comments and angle brackets; a group "name: a, b;" gives its members.
 */
export function splitAddresses(value: string): string[] {
  const entries: string[] = [];
  let current = "";
  let quoted = false;
  let depth = 0;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === "\\" && i + 1 < value.length) current += c + value[++i];
      else {
        if (c === '"') quoted = false;
        current += c;
      }
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (depth === 0 && c === "<") angle = true;
    else if (depth === 0 && c === ">") angle = false;
    else if (depth === 0 && !angle && c === ":") {
      current = "";  // a group's display name
      continue;
    } else if (depth === 0 && !angle && (c === "," || c === ";")) {
      entries.push(current);
      current = "";
      continue;
    }
    current += c;
  }
  entries.push(current);
  return entries.map((e) => e.replace(/\([^()]*\)/g, " ").trim()).filter(Boolean);
}

/**
 * The recipients a built message names in its To, Cc and Bcc fields (lowercase addresses). The
 * envelope and the encryption recipients come from here, after Thunderbird expanded its
 * address-book mailing lists, never from the compose window's unexpanded entries.
 */
export function headerRecipients(raw: string): HeaderRecipients {
  const header = raw.slice(0, headerEnd(raw));
  const entries = (name: string): string[] => splitAddresses(fieldValue(header, name));
  const of = (name: string): string[] => [...new Set(addressList(entries(name)))];
  const unresolved = ["to", "cc", "bcc"].flatMap((name) => entries(name).filter((e) => !addressOf(e).includes("@")));
  return {to: of("to"), cc: of("cc"), bcc: of("bcc"), hasBcc: /^bcc:/im.test(header), unresolved};
}

export interface HeaderRecipients {
  to: string[];
  cc: string[];
  bcc: string[];
  /** The header has a Bcc field at all. */
  hasBcc: boolean;
  /** Entries with no address (an address-book list Thunderbird did not expand). */
  unresolved: string[];
}
