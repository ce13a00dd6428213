// SPDX-License-Identifier: MIT
// Typed errors from the host's stable codes (docs/protocol.md section 3) plus the client's own
// (host missing, host exited, timeout), and the words a user reads for each.

/** Codes the client itself raises; the host never sends these. */
export const CLIENT_CODES = ["ERR_HOST_NOT_INSTALLED", "ERR_HOST_EXITED", "ERR_TIMEOUT"] as const;

/** Host codes the interface has words for; any other code gets the generic text with the code. */
export const KNOWN_CODES = [
  "ERR_BAD_JSON", "ERR_BAD_REQUEST", "ERR_UNKNOWN_OP", "ERR_TOO_LARGE", "ERR_BAD_FRAME",
  "ERR_INTERNAL", "ERR_NOT_FOUND", "ERR_BAD_PASSWORD", "ERR_BAD_PASSPHRASE", "ERR_LOCKED",
  "ERR_BAD_PKCS12", "ERR_BAD_CERTIFICATE", "ERR_NO_CERTIFICATE", "ERR_NO_IDENTITY",
  "ERR_BAD_MESSAGE", "ERR_DECRYPT_FAILED", "ERR_POLICY", "ERR_STORAGE", "ERR_THROTTLED",
  "ERR_NOT_GRANTED", "ERR_DISABLED",
  ...CLIENT_CODES,
] as const;

export type ErrorDetails = Record<string, unknown>;

/** An error with the host's code; `message` is the host's text (for logs and details views). */
export class HostError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = "HostError";
    this.code = code;
    this.details = details;
  }
}

/** Plain form of an error for crossing runtime messaging (Error objects do not survive it). */
export interface ErrorShape {
  code: string;
  message: string;
  details: ErrorDetails;
}

export function toShape(error: unknown): ErrorShape {
  if (error instanceof HostError) return {code: error.code, message: error.message, details: error.details};
  return {code: "ERR_INTERNAL", message: String((error as Error)?.message ?? error), details: {}};
}

export function fromShape(shape: ErrorShape): HostError {
  return new HostError(shape.code, shape.message, shape.details);
}

export type Translate = (key: string, substitutions?: string[]) => string;

/** The sentence a user reads for an error: the locale's words for known codes, otherwise a
 * generic sentence that names the code so support can tell what happened. */
export function describeError(error: {code: string; details?: ErrorDetails}, t: Translate): string {
  if ((KNOWN_CODES as readonly string[]).includes(error.code)) {
    let text = t("error_" + error.code);
    const addresses = error.details?.addresses;
    if (error.code === "ERR_NO_CERTIFICATE" && Array.isArray(addresses)) text += " " + addresses.join(", ");
    const retry = error.details?.retry_after_ms;
    if (error.code === "ERR_THROTTLED" && typeof retry === "number") {
      text += " " + t("error_retry_after", [String(Math.ceil(retry / 1000))]);
    }
    return text;
  }
  return t("error_unknown", [error.code]);
}
