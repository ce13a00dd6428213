// SPDX-License-Identifier: MIT
// Base64 (RFC 4648, standard alphabet, padded) for payloads, without Node or DOM specifics beyond
// atob/btoa, which every page, worker and Node 20 have.

/** Encodes bytes as one base64 string, in slices so large inputs do not overflow the call stack. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    parts.push(String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000))));
  }
  return btoa(parts.join(""));
}

/** Decodes a base64 string; throws on characters outside the alphabet. */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Number of bytes a padded base64 string decodes to. */
export function decodedLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}
