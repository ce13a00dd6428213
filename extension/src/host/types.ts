// SPDX-License-Identifier: MIT
// Shapes of the host's results the pages read (docs/protocol.md sections 6 and 8). Fields the
// host adds later are optional here: the interface shows them when present.

export interface Warning {
  code: string;
  message: string;
}

export interface CertificateInfo {
  fingerprint: string;
  /** Protocol 1 name of the signer's fingerprint in a verification status. */
  fingerprint_sha256?: string;
  emails: string[];
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  key?: {type: string; bits?: number; curve?: string};
  warnings?: Warning[];
}

export interface Identity extends CertificateInfo {
  active: boolean;
  active_for: string[];
  chain_length: number;
  created: string;
}

export interface Certificate extends CertificateInfo {
  source: "identity" | "imported" | "harvested" | "chain" | string;
  trust_anchor: boolean;
  trusted?: boolean;
  capabilities?: string[];
  seen_from?: string | null;
  first_seen?: string;
  last_seen?: string;
}

export interface Policy {
  in_force: boolean;
  source?: string;
  error?: string;
  effective?: Record<string, unknown>;
}

export interface Hello {
  name: string;
  version: string;
  protocol: number;
  openssl: string;
  operations: string[];
  features?: string[];
  policy?: Policy;
}

export interface StoreStatus {
  protected: boolean;
  unlocked: boolean;
  idle_lock_minutes?: number;
  policy?: Policy;
  counts?: {identities: number; certificates: number; trust_anchors: number; crls: number};
}

export interface CertificateList {
  certificates: Certificate[];
  total?: number;
  offset?: number;
  limit?: number;
}

export interface Layer {
  type: "signed" | "enveloped" | "auth_enveloped" | "certs_only" | string;
  detached?: boolean;
  decrypted?: boolean;
  content_encryption?: string;
  authenticated?: boolean;
}

export interface FromCheck {
  address: string | null;
  problem: null | string;
}

export interface Signature {
  layer: number;
  verdict: string;
  reasons: string[];
  signer: CertificateInfo | null;
  digest_algorithm?: string;
  signing_time?: string | null;
  valid_at_signing_time?: boolean | null;
  from_check?: FromCheck;
}

export interface VerificationStatus {
  level: "none" | "signed" | "encrypted" | "signed+encrypted" | string;
  layers: Layer[];
  signatures?: Signature[];
  warnings?: Warning[];
  header_protection?: {protected: boolean; differing_fields: string[]};
}

export interface OpenedMessage {
  /** The inner message, base64. */
  mime: string;
  status: VerificationStatus;
}
