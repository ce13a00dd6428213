// SPDX-License-Identifier: MIT
// The test webmail page's own script: what a webmail does with the page API, one scenario per
// call, results as plain JSON (message bytes as latin1 text) so Chromium and Firefox drive it
// alike. It never sees plaintext of encrypted mail: open() returns the summary only.
"use strict";
(() => {
  const bytes = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 255);
  const text = (b) => Array.from(b, (x) => String.fromCharCode(x)).join("");
  const failure = (e) => ({error: {code: e && e.code, message: String(e && e.message || e)}});
  let api = null;

  async function run(name, args = {}) {
    try {
      if (name === "connect") {
        api = await window.SmimeWebmail.connect({timeoutMs: args.timeoutMs ?? 2000});
        return {version: api.version, features: api.features};
      }
      if (!api) throw Object.assign(new Error("not connected"), {code: "ERR_NOT_CONNECTED"});
      switch (name) {
        case "status": return await api.status();
        case "recipients": return await api.recipients(args.addresses);
        case "inspect": return await api.inspect(bytes(args.message));
        case "protect": {
          const r = await api.protect(bytes(args.message), {sign: args.sign, encrypt: args.encrypt});
          return {message: text(r.message), bcc: r.bcc.map((b) => ({address: b.address, message: text(b.message)}))};
        }
        case "open": {
          const box = document.getElementById("viewer");
          return await api.open(bytes(args.message), box);
        }
        case "raw": return await new Promise((resolve) => {
          // A request the client library would never send, straight on the port.
          const port = api.port;
          const listener = (event) => { if (event.data.id === "raw") { port.removeEventListener("message", listener); resolve(event.data); } };
          port.addEventListener("message", listener);
          port.postMessage({id: "raw", ...args.request});
        });
        default: throw new Error("unknown scenario " + name);
      }
    } catch (e) {
      return failure(e);
    }
  }
  window.webmail = {run, html: () => document.documentElement.outerHTML};
})();
