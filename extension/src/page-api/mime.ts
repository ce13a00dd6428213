// SPDX-License-Identifier: MIT
// What the page API does to messages itself: removing Bcc fields from the header of a message
// before it is signed (the host removes them only when it encrypts), and the summary of a
// verification status a page may learn (level, worst verdict, its signer), never the content.

import type {VerificationStatus} from "../host/types.js";

/** The message without Bcc header fields (folded lines included); the body is untouched. */
export function withoutBcc(bytes: Uint8Array): Uint8Array {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
  const match = /\r?\n\r?\n/.exec(head);
  const headerEnd = match ? match.index + match[0].length : head.length;
  const lines = head.slice(0, headerEnd).split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  let changed = false;
  for (const line of lines) {
    const continuation = /^[ \t]/.test(line);
    if (!continuation) dropping = /^bcc[ \t]*:/i.test(line);
    if (dropping) changed = true;
    else kept.push(line);
  }
  if (!changed) return bytes;
  const header = Uint8Array.from(kept.join(""), (c) => c.charCodeAt(0));
  const out = new Uint8Array(header.length + bytes.length - headerEnd);
  out.set(header, 0);
  out.set(bytes.subarray(headerEnd), header.length);
  return out;
}

/** Verdicts from worst to best; a verdict not listed counts just after the bad ones. */
const VERDICT_ORDER = ["bad_signature", "revoked", "weak_algorithm", "untrusted", "expired", "not_yet_valid",
  "bad_key_usage", "address_mismatch", "good"];

function rank(verdict: string): number {
  const i = VERDICT_ORDER.indexOf(verdict);
  return i < 0 ? 1.5 : i;
}

export interface OpenSummary {
  level: string;
  verdict: string | null;
  signer: {name: string | null; email: string | null} | null;
  encrypted: boolean;
}

/** The summary `open` gives the page: the level, the worst signature verdict and that
 * signature's signer (common name and first address of the certificate). */
export function summarize(status: VerificationStatus): OpenSummary {
  const signatures = status.signatures ?? [];
  let worst = signatures[0];
  for (const s of signatures) if (rank(s.verdict) < rank(worst.verdict)) worst = s;
  const cert = worst?.signer ?? null;
  const name = cert ? /(?:^|,)\s*CN=((?:\\,|[^,])+)/.exec(cert.subject ?? "")?.[1]?.replace(/\\(.)/g, "$1") ?? null : null;
  return {
    level: status.level,
    verdict: worst ? worst.verdict : null,
    signer: cert ? {name, email: cert.emails?.[0] ?? null} : null,
    encrypted: status.level.includes("encrypted"),
  };
}
