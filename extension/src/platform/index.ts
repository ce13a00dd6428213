// SPDX-License-Identifier: MIT
// The thin layer that holds what differs between Chromium, Firefox and Thunderbird builds; pages
// and the background use only what this module exports.

declare const __TARGET__: "chromium" | "firefox" | "thunderbird";

export type Target = "chromium" | "firefox" | "thunderbird";

/** Which build this is; set by the bundler, one value per dist/ folder. */
export const target: Target = __TARGET__;

/** The WebExtension namespace: `browser` in Gecko (promise-based), `chrome` in Chromium (MV3
 * returns promises too). Both have the shape of `chrome` for what this extension uses. */
export const api: typeof chrome =
  (globalThis as unknown as {browser?: typeof chrome}).browser ?? globalThis.chrome;

/** The native host's registered name (manifests/*.json.in). */
export const HOST_NAME = "org.smimehost.native";

/** True when a port's disconnect reason means the host is not registered for this browser (or not
 * allowed for this extension), as opposed to a host that started and then exited. Chromium says
 * "Specified native messaging host not found." or "Access to the specified native messaging host
 * is forbidden."; Gecko says "No such native application <name>". */
export function isHostMissing(reason: string | undefined): boolean {
  if (!reason) return false;
  return /native messaging host not found|No such native application|host is forbidden/i.test(reason);
}

/** Opens an extension page in a new tab. */
export async function openPage(path: string): Promise<void> {
  await api.tabs.create({url: api.runtime.getURL(path)});
}
