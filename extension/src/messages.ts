// SPDX-License-Identifier: MIT
// The one table of requests pages send to the background: each entry names the host operation it
// runs, which of its arguments are payloads, and its argument and result types. The background
// refuses anything not in this table.

import type {CertificateList, Certificate, Hello, Identity, OpenedMessage, StoreStatus, VerificationStatus} from "./host/types.js";
import type {GrantEntry} from "./page-api/background.js";
import type {HostState} from "./host/client.js";
import type {ErrorShape} from "./host/errors.js";
import type {Reading} from "./thunderbird/reading.js";
import type {ComposeView} from "./thunderbird/compose.js";

interface Entry<Args, Result> {
  args: Args;
  result: Result;
}

type Fingerprint = {fingerprint: string};

/** name -> host operation; the argument and result types are in `Table`. */
export const HOST_OPERATIONS = {
  "hello": {op: "hello", payloads: []},
  "store.status": {op: "keystore.status", payloads: []},
  "store.unlock": {op: "keystore.unlock", payloads: []},
  "store.lock": {op: "keystore.lock", payloads: []},
  "store.setPassphrase": {op: "keystore.set_passphrase", payloads: []},
  "identities.list": {op: "identities.list", payloads: []},
  "identities.import": {op: "identities.import", payloads: ["pkcs12"]},
  "identities.activate": {op: "identities.activate", payloads: []},
  "identities.deactivate": {op: "identities.deactivate", payloads: []},
  "identities.delete": {op: "identities.delete", payloads: []},
  "identities.exportCertificate": {op: "identities.export_certificate", payloads: []},
  "certificates.list": {op: "certificates.list", payloads: []},
  "certificates.import": {op: "certificates.import", payloads: []},
  "certificates.importCrl": {op: "certificates.import_crl", payloads: []},
  "certificates.delete": {op: "certificates.delete", payloads: []},
  "message.decrypt": {op: "message.decrypt", payloads: ["mime"]},
  "message.verify": {op: "message.verify", payloads: ["mime"]},
} as const;

export interface Table {
  "hello": Entry<Record<string, never>, Hello>;
  "store.status": Entry<Record<string, never>, StoreStatus>;
  "store.unlock": Entry<{passphrase: string; idle_minutes?: number}, {unlocked: boolean}>;
  "store.lock": Entry<Record<string, never>, Record<string, unknown>>;
  "store.setPassphrase": Entry<{new_passphrase: string; old_passphrase?: string}, {protected: boolean}>;
  "identities.list": Entry<Record<string, never>, {identities: Identity[]}>;
  "identities.import": Entry<{pkcs12: string; password: string}, Identity>;
  "identities.activate": Entry<Fingerprint, Identity>;
  "identities.deactivate": Entry<Fingerprint, Identity>;
  "identities.delete": Entry<Fingerprint, {deleted: boolean}>;
  "identities.exportCertificate": Entry<Fingerprint & {chain: boolean}, {pem: string}>;
  "certificates.list": Entry<{email?: string; offset?: number; limit?: number}, CertificateList>;
  "certificates.import": Entry<{certificate: string; trust_anchor: boolean}, {certificates: Certificate[]}>;
  "certificates.importCrl": Entry<{crl: string}, {fingerprint: string; issuer: string; this_update: string}>;
  "certificates.delete": Entry<Fingerprint, {deleted: boolean}>;
  "message.decrypt": Entry<{mime: string}, OpenedMessage>;
  "message.verify": Entry<{mime: string}, OpenedMessage>;
  /** The connection's state, without starting the host. */
  "host.state": Entry<Record<string, never>, {state: HostState; reason?: string}>;
  /** Another part of the extension hands a raw message (base64) to a new reader tab. */
  "reader.open": Entry<{mime: string}, {token: string}>;
  /** The reader tab takes the message it was opened for (once). */
  "reader.take": Entry<{token: string}, {mime: string}>;
  /** The page API's viewer frame takes the opened message (or the error) it was made for. */
  "viewer.take": Entry<{token: string}, {mime: string; status: VerificationStatus} | {error: ErrorShape}>;
  /** Sites allowed to use the page API, with their source (user or policy). */
  "grants.list": Entry<Record<string, never>, {grants: GrantEntry[]}>;
  /** The user allows an exact origin (from the popup, for the tab `tabId`). */
  "grants.add": Entry<{origin: string; tabId?: number}, {grants: GrantEntry[]}>;
  "grants.remove": Entry<{origin: string}, {grants: GrantEntry[]}>;
  /** Thunderbird: the verdict of the message shown in a tab (message display action popup). */
  "tb.reading": Entry<{tabId: number}, {messageId: number | null; reading: Reading | null}>;
  /** Thunderbird: a compose tab's toggles and recipients (compose action popup). */
  "tb.compose.get": Entry<{tabId: number}, ComposeView>;
  "tb.compose.set": Entry<{tabId: number; sign?: boolean; encrypt?: boolean}, ComposeView>;
}

/** Requests only the Thunderbird build answers. */
export const THUNDERBIRD_KINDS = ["tb.reading", "tb.compose.get", "tb.compose.set"] as const;

export type Kind = keyof Table;

export interface PageRequest<K extends Kind = Kind> {
  kind: K;
  args: Table[K]["args"];
}

export type PageReply<K extends Kind = Kind> = {ok: true; result: Table[K]["result"]} | {ok: false; error: ErrorShape};

/** Requests the background answers itself (no host operation of the same name). */
const EXTENSION_KINDS: string[] = ["viewer.take", "grants.list", "grants.add", "grants.remove"];

export function isKind(value: unknown): value is Kind {
  return typeof value === "string" && (value in HOST_OPERATIONS || value === "host.state" || value === "reader.open" ||
    value === "reader.take" || EXTENSION_KINDS.includes(value) || (THUNDERBIRD_KINDS as readonly string[]).includes(value));
}
