// SPDX-License-Identifier: MIT
// How a page calls the background: one typed function over runtime.sendMessage and the table in
// messages.ts; failures arrive as HostError with the host's or the client's code.

import {fromShape, HostError} from "../host/errors.js";
import type {Kind, PageReply, Table} from "../messages.js";
import {sendToBackground} from "../platform/index.js";

export async function call<K extends Kind>(kind: K, args: Table[K]["args"] = {} as Table[K]["args"]): Promise<Table[K]["result"]> {
  let reply: PageReply<K> | undefined;
  try {
    reply = (await sendToBackground({kind, args})) as PageReply<K> | undefined;
  } catch (error) {
    throw new HostError("ERR_INTERNAL", String((error as Error)?.message ?? error));
  }
  if (!reply) throw new HostError("ERR_INTERNAL", "no reply from the background");
  if (!reply.ok) throw fromShape(reply.error);
  return reply.result;
}
