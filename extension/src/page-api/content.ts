// SPDX-License-Identifier: MIT
// The content script the extension registers only for origins the user or the administrator
// granted. It asks the background whether this exact origin is granted; only then does it answer
// a page's hello (same window, same origin) with a private MessagePort. Every request on that
// port is type-checked before it goes to the background; bytes cross as base64. For `open` it
// puts the extension's viewer frame into the page's container: the plaintext goes from the
// background to that frame and never through the page.

import {fromBase64, toBase64} from "../host/base64.js";
import {api} from "../platform/index.js";
import {checkRequest, FEATURES, isHello, PAGE_API_VERSION, PageApiError, type PageRequest} from "./protocol.js";
import type {PageApiMessage, PageApiReply} from "./wire.js";

type Reply = {id: number | string; ok: true; result: unknown} | {id: number | string | null; ok: false; error: {code: string; message: string}};

const FLAG = "__smimeWebmailContentScript";

async function ask(message: PageApiMessage): Promise<PageApiReply> {
  try {
    const reply = (await api.runtime.sendMessage(message)) as PageApiReply | undefined;
    return reply ?? {ok: false, error: {code: "ERR_NOT_GRANTED", message: "no answer"}};
  } catch (error) {
    // The extension was reloaded or removed: this script is an orphan.
    return {ok: false, error: {code: "ERR_DISCONNECTED", message: String((error as Error)?.message ?? error)}};
  }
}

function toWire(request: PageRequest): Record<string, unknown> {
  const args: Record<string, unknown> = {...request.args};
  if (args.message !== undefined) args.message = toBase64(args.message as Uint8Array);
  return args;
}

function showFrame(frameName: string, token: string): void {
  const container = [...document.querySelectorAll("[data-smime-webmail-frame]")]
    .find((e) => e.getAttribute("data-smime-webmail-frame") === frameName);
  if (!container) return;
  const frame = document.createElement("iframe");
  frame.src = api.runtime.getURL("pages/viewer.html") + "#" + token;
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.setAttribute("title", api.i18n.getMessage("viewer_title") || "S/MIME");
  frame.style.cssText = "width:100%;height:100%;min-height:420px;border:0;display:block;";
  container.replaceChildren(frame);
}

async function serve(request: PageRequest): Promise<unknown> {
  const reply = await ask({page_api: "request", op: request.op, args: toWire(request)});
  if (!reply.ok) throw new PageApiError(reply.error.code, reply.error.message);
  const result = reply.result as Record<string, unknown>;
  switch (request.op) {
    case "protect": {
      const bcc = (result.bcc as {address: string; message: string}[]).map((b) => ({address: b.address, message: fromBase64(b.message)}));
      return {message: fromBase64(result.message as string), bcc};
    }
    case "open": {
      showFrame(request.args.frame as string, result.token as string);
      const error = result.error as {code: string; message: string} | undefined;
      if (error) throw new PageApiError(error.code, error.message);
      return result.summary;
    }
    default:
      return result;
  }
}

function onRequest(port: MessagePort, data: unknown): void {
  let request: PageRequest;
  try {
    request = checkRequest(data, "page");
  } catch (error) {
    const id = typeof data === "object" && data !== null ? (data as {id?: unknown}).id : null;
    const safeId = typeof id === "number" || (typeof id === "string" && id.length <= 64) ? id : null;
    port.postMessage({id: safeId, ok: false, error: {code: "ERR_BAD_REQUEST", message: (error as Error).message}} satisfies Reply);
    return;
  }
  serve(request).then(
    (result) => port.postMessage({id: request.id, ok: true, result} satisfies Reply),
    (error) => {
      const code = error instanceof PageApiError ? error.code : "ERR_INTERNAL";
      port.postMessage({id: request.id, ok: false, error: {code, message: String((error as Error)?.message ?? error)}} satisfies Reply);
    });
}

function start(): void {
  // The listener is added at once so no early hello is missed; it answers only once the
  // background said this exact origin is granted, and not at all otherwise: the page learns nothing.
  const granted = ask({page_api: "hello"}).then((reply) => reply.ok);
  window.addEventListener("message", (event) => {
    if (event.source !== window || event.origin !== location.origin || !isHello(event.data)) return;
    if ((event.data as {version: number}).version !== PAGE_API_VERSION) return;
    void granted.then((ok) => {
      if (!ok) return;
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => onRequest(channel.port1, e.data);
      window.postMessage({smime_webmail: "port", version: PAGE_API_VERSION, features: [...FEATURES]}, location.origin, [channel.port2]);
    });
  });
}

const scope = globalThis as unknown as Record<string, boolean>;
if (!scope[FLAG]) {
  scope[FLAG] = true;
  start();
}
