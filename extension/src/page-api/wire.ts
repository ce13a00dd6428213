// SPDX-License-Identifier: MIT
// Messages between the page API's content script and the background (runtime messaging).

export type PageApiMessage =
  | {page_api: "hello"}
  | {page_api: "request"; op: string; args: Record<string, unknown>};

export type PageApiReply = {ok: true; result: unknown} | {ok: false; error: {code: string; message: string}};

export function isPageApiMessage(value: unknown): value is PageApiMessage {
  return typeof value === "object" && value !== null && "page_api" in value;
}
