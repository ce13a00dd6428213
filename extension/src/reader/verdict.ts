// SPDX-License-Identifier: MIT
// Turns a verification status (docs/protocol.md section 8) into what the reader's banner says:
// the protection level, one line per signature with the signer and the verdict in words, the
// status warnings, and a tone (good, warning, bad, neutral) for its colour.

import type {Translate} from "../host/errors.js";
import type {Signature, VerificationStatus} from "../host/types.js";

export type Tone = "good" | "warning" | "bad" | "neutral";

export interface SignatureLine {
  signer: string;
  verdict: string;
  text: string;
  details: string[];
  tone: Tone;
}

export interface Banner {
  tone: Tone;
  level: string;
  headline: string;
  signatures: SignatureLine[];
  notes: string[];
  details: string[];
}

/** Verdicts the locale has words for; any other verdict reads "signature problem (<code>)". */
const VERDICTS = [
  "good", "bad_signature", "revoked", "weak_algorithm", "untrusted", "expired", "not_yet_valid",
  "bad_key_usage", "address_mismatch",
];
const BAD_VERDICTS = new Set(["bad_signature", "revoked"]);
const FROM_PROBLEMS = ["no_from", "multiple_from_fields", "multiple_mailboxes", "unparseable", "not_in_certificate"];

function signerName(signature: Signature, t: Translate): string {
  const signer = signature.signer;
  if (!signer) return t("signer_unknown");
  const cn = /(?:^|,)\s*CN=([^,]+)/.exec(signer.subject ?? "")?.[1];
  const email = signer.emails?.[0];
  if (cn && email) return `${cn} <${email}>`;
  return email ?? cn ?? signer.subject ?? t("signer_unknown");
}

function verdictText(verdict: string, t: Translate): string {
  return VERDICTS.includes(verdict) ? t("verdict_" + verdict) : t("verdict_other", [verdict]);
}

function signatureLine(signature: Signature, t: Translate): SignatureLine {
  const details: string[] = [];
  const signer = signature.signer;
  if (signer) {
    const fingerprint = signer.fingerprint ?? signer.fingerprint_sha256;
    details.push(t("detail_subject", [signer.subject]));
    details.push(t("detail_issuer", [signer.issuer]));
    if (fingerprint) details.push(t("detail_fingerprint", [fingerprint]));
    details.push(t("detail_validity", [signer.not_before, signer.not_after]));
  }
  for (const reason of signature.reasons ?? []) {
    if (reason !== signature.verdict) details.push(verdictText(reason, t));
  }
  const problem = signature.from_check?.problem;
  if (problem) {
    details.push(FROM_PROBLEMS.includes(problem) ? t("from_" + problem, [signature.from_check?.address ?? ""]) : problem);
  }
  if (signature.digest_algorithm) details.push(t("detail_digest", [signature.digest_algorithm]));
  if (signature.signing_time) details.push(t("detail_signing_time", [signature.signing_time]));
  const verdict = signature.verdict;
  const tone: Tone = verdict === "good" ? "good" : BAD_VERDICTS.has(verdict) ? "bad" : "warning";
  return {signer: signerName(signature, t), verdict, text: verdictText(verdict, t), details, tone};
}

const TONE_ORDER: Tone[] = ["neutral", "good", "warning", "bad"];
function worse(a: Tone, b: Tone): Tone {
  return TONE_ORDER.indexOf(a) >= TONE_ORDER.indexOf(b) ? a : b;
}

export function describeStatus(status: VerificationStatus, t: Translate): Banner {
  const level = status.level;
  const known = ["none", "signed", "encrypted", "signed+encrypted"];
  const headline = known.includes(level) ? t("level_" + level.replace("+", "_")) : t("level_other", [level]);
  const signatures = (status.signatures ?? []).map((s) => signatureLine(s, t));
  let tone: Tone = signatures.length > 0 ? "good" : "neutral";
  for (const line of signatures) tone = worse(tone, line.tone);

  const notes: string[] = [];
  for (const warning of status.warnings ?? []) {
    notes.push(warning.code === "unauthenticated_encryption" ? t("warning_unauthenticated_encryption") : warning.message || warning.code);
    tone = worse(tone, "warning");
  }
  const protection = status.header_protection;
  if (protection?.differing_fields?.length) {
    notes.push(t("headers_differ", [protection.differing_fields.join(", ")]));
    tone = worse(tone, "warning");
  } else if (protection?.protected) {
    notes.push(t("headers_protected"));
  }

  const details: string[] = [];
  status.layers.forEach((layer, i) => {
    const parts = [`${i + 1}. ${layer.type}`];
    if (layer.content_encryption) parts.push(layer.content_encryption);
    if (layer.authenticated === true) parts.push(t("layer_authenticated"));
    if (layer.authenticated === false) parts.push(t("layer_not_authenticated"));
    details.push(parts.join(", "));
  });
  return {tone, level, headline, signatures, notes, details};
}

/** Whether links of a message may stay live where a web page embeds the viewer: only when a
 * signature is good and no layer is encrypted without authentication. Otherwise the content may
 * have been altered in transit (CBC malleability) to carry a link that sends the plaintext away
 * (EFAIL), so the links are shown as text. */
export function linksMayStayLive(status: VerificationStatus): boolean {
  if ((status.warnings ?? []).some((w) => w.code === "unauthenticated_encryption")) return false;
  return (status.signatures ?? []).some((s) => s.verdict === "good");
}
