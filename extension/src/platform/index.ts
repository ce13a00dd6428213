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

/** The match pattern that covers an exact origin for a registered content script. Chromium's
 * patterns can name the port; Gecko's cannot (a pattern with a port is rejected), so there it
 * covers every port of the host and the background's exact-origin check does the rest. */
export function originMatchPattern(origin: string): string {
  if (target === "chromium") return origin + "/*";
  const url = new URL(origin);
  return `${url.protocol}//${url.hostname}/*`;
}

/** Starts the page API's content script in a tab that was open when its origin was granted.
 * Chromium injects it into the page as it is. In Gecko (Firefox ESR 140) a script injected into
 * the open page did not receive the page's window messages, so the tab is reloaded and the
 * registered script starts with the page. */
export async function startInTab(tabId: number): Promise<void> {
  if (target === "chromium") {
    await api.scripting.executeScript({target: {tabId, frameIds: [0]}, files: ["page-api/content.js"]});
  } else {
    await api.tabs.reload(tabId);
  }
}

/** A page's request to the background and its reply; `sender` is there for runtime messages
 * (content scripts and pages), not for the service worker's MessageChannel path. */
export type BackgroundHandler = (message: unknown, senderUrl: string | undefined, senderId: string | undefined,
  sender?: chrome.runtime.MessageSender) => Promise<unknown>;

/** Sends a request from a page to the background. Chromium's runtime messaging copies large
 * strings slowly (seconds for a 10 MB message each way), so there pages reach the extension's
 * service worker through a MessageChannel (structured clone) when it is running; Gecko's runtime
 * messaging already uses structured clone. */
export async function sendToBackground(message: unknown): Promise<unknown> {
  if (target === "chromium" && typeof navigator !== "undefined" && navigator.serviceWorker) {
    const registration = await navigator.serviceWorker.getRegistration();
    const worker = registration?.active;
    if (worker) {
      return new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => {
          channel.port1.close();
          resolve(event.data);
        };
        worker.postMessage(message, [channel.port2]);
      });
    }
  }
  return api.runtime.sendMessage(message);
}

/** Serves the pages' requests in the background, from both paths of sendToBackground. */
export function serveBackground(handler: BackgroundHandler): void {
  api.runtime.onMessage.addListener((message: unknown, sender, sendResponse: (reply: unknown) => void) => {
    handler(message, sender.url, sender.id, sender).then(sendResponse);
    return true;  // the reply comes asynchronously
  });
  if (target !== "chromium") return;
  // Only clients of this worker's own origin (the extension's pages) can post to it.
  globalThis.addEventListener("message", (event: Event) => {
    const e = event as MessageEvent & {waitUntil?: (p: Promise<unknown>) => void};
    const reply = e.ports[0];
    if (!reply) return;
    const url = (e.source as {url?: string} | null)?.url;
    const done = handler(e.data, url, api.runtime.id).then((r) => reply.postMessage(r));
    e.waitUntil?.(done);
  });
}
