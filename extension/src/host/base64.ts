// SPDX-License-Identifier: MIT
// Base64 (RFC 4648, standard alphabet, padded) for payloads, without Node or DOM specifics beyond
// atob/btoa, which every page, worker and Node 20 have.

/** Bytes per slice: a multiple of 3, so every slice but the last encodes without padding and the
 * slices' base64 simply joins; small enough for String.fromCharCode's argument limit. */
const SLICE = 3 * 0x4000;

/** Encodes bytes as one base64 string, slice by slice (fast for megabytes as well). */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += SLICE) {
    const slice = bytes.subarray(i, i + SLICE);
    parts.push(btoa(String.fromCharCode.apply(null, slice as unknown as number[])));
  }
  return parts.join("");
}

/** Decodes a base64 string; throws on characters outside the alphabet. */
export function fromBase64(text: string): Uint8Array {
  const bytes = new Uint8Array(decodedLength(text));
  let offset = 0;
  // Slices of whole 4-character groups decode on their own.
  const step = (SLICE / 3) * 4;
  for (let i = 0; i < text.length; i += step) {
    const binary = atob(text.slice(i, i + step));
    for (let j = 0; j < binary.length; j++) bytes[offset + j] = binary.charCodeAt(j);
    offset += binary.length;
  }
  return offset === bytes.length ? bytes : bytes.subarray(0, offset);
}

/** Number of bytes a padded base64 string decodes to. */
export function decodedLength(text: string): number {
  if (text.length % 4 !== 0) return Math.floor((text.length * 3) / 4);
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}
