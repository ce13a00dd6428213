// SPDX-License-Identifier: MIT
// The Thunderbird add-on's part of the background: starts reading and composing, and answers the
// popups' Thunderbird requests (messages.ts).

import type {HostClient} from "../host/client.js";
import {HostError} from "../host/errors.js";
import {composeView, setToggles, startCompose} from "./compose.js";
import {readingForTab, startReading} from "./reading.js";

export function startThunderbird(client: HostClient, openReader: (mime: string) => Promise<void>): void {
  startReading(client, openReader);
  startCompose(client);
}

export async function handleThunderbird(client: HostClient, kind: string, args: Record<string, unknown>): Promise<unknown> {
  const tabId = args.tabId;
  if (typeof tabId !== "number") throw new HostError("ERR_BAD_REQUEST", "tabId must be a number");
  switch (kind) {
    case "tb.reading":
      return readingForTab(client, tabId);
    case "tb.compose.get":
      return composeView(client, tabId);
    case "tb.compose.set":
      return setToggles(client, tabId, {
        sign: typeof args.sign === "boolean" ? args.sign : undefined,
        encrypt: typeof args.encrypt === "boolean" ? args.encrypt : undefined,
      });
    default:
      throw new HostError("ERR_BAD_REQUEST", "refused");
  }
}
