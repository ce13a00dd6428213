// SPDX-License-Identifier: MIT
// The toolbar popup: whether the key store is locked, a passphrase field to unlock it, a lock
// button, and links to the options page and the reader.

import {call} from "../common/rpc.js";
import {byId} from "../common/dom.js";
import {localize, t} from "../common/i18n.js";
import {describeError, HostError} from "../host/errors.js";
import {popupGrant} from "../page-api/grants-view.js";
import {api, openPage} from "../platform/index.js";

async function refresh(): Promise<void> {
  const state = byId("state");
  try {
    const status = await call("store.status");
    const key = !status.protected ? "store_unprotected" : status.unlocked ? "store_unlocked" : "store_locked";
    state.textContent = t(key);
    state.dataset.state = key;
    byId("unlock-form").hidden = !(status.protected && !status.unlocked);
    byId("lock").hidden = !(status.protected && status.unlocked);
    byId("host-missing").hidden = true;
  } catch (error) {
    const e = error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error));
    state.textContent = describeError(e, t);
    state.dataset.state = e.code;
    byId("host-missing").hidden = e.code !== "ERR_HOST_NOT_INSTALLED";
  }
}

byId<HTMLFormElement>("unlock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = byId<HTMLInputElement>("passphrase");
  const message = byId("message");
  try {
    await call("store.unlock", {passphrase: field.value});
    message.textContent = t("unlocked");
  } catch (error) {
    message.textContent = describeError(error instanceof HostError ? error : new HostError("ERR_INTERNAL", String(error)), t);
  } finally {
    field.value = "";
    await refresh();
  }
});
byId("lock").addEventListener("click", async () => {
  await call("store.lock").catch(() => undefined);
  await refresh();
});
byId("open-options").addEventListener("click", () => void api.runtime.openOptionsPage());
byId("open-reader").addEventListener("click", () => void openPage("pages/reader.html"));

localize();
void refresh();
void popupGrant(byId("site"));
