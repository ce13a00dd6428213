// SPDX-License-Identifier: MIT
// A minimal Marionette client (Firefox's remote protocol: "<length>:<json>" packets over TCP) for
// the Firefox test: start a session, install the add-on temporarily, run scripts in chrome or
// content context.
import {connect} from "node:net";

export class Marionette {
  static async open(port, attempts = 150) {
    for (let i = 0; i < attempts; i++) {
      try {
        const m = new Marionette();
        await m.connect(port);
        return m;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`no Marionette on port ${port}`);
  }

  connect(port) {
    return new Promise((resolve, reject) => {
      this.socket = connect(port, "127.0.0.1");
      this.buffer = Buffer.alloc(0);
      this.pending = new Map();
      this.nextId = 1;
      let greeted = false;
      this.socket.once("error", reject);
      this.socket.on("data", (data) => {
        this.buffer = Buffer.concat([this.buffer, data]);
        for (;;) {
          const colon = this.buffer.indexOf(":");
          if (colon < 0) return;
          const length = Number(this.buffer.subarray(0, colon).toString());
          if (this.buffer.length < colon + 1 + length) return;
          const packet = JSON.parse(this.buffer.subarray(colon + 1, colon + 1 + length).toString());
          this.buffer = this.buffer.subarray(colon + 1 + length);
          if (!greeted) {
            greeted = true;
            resolve();
            continue;
          }
          const [, id, error, result] = packet;
          const p = this.pending.get(id);
          this.pending.delete(id);
          if (error) p?.reject(new Error(`${error.error}: ${error.message}`));
          else p?.resolve(result);
        }
      });
    });
  }

  command(name, params = {}) {
    const id = this.nextId++;
    const body = JSON.stringify([0, id, name, params]);
    this.socket.write(`${Buffer.byteLength(body)}:${body}`);
    return new Promise((resolve, reject) => this.pending.set(id, {resolve, reject}));
  }

  /** Runs an async script (its last argument is the callback `resolve`) and returns its value. */
  async run(script, args = [], timeout = 60_000) {
    await this.command("WebDriver:SetTimeouts", {script: timeout});
    const r = await this.command("WebDriver:ExecuteAsyncScript", {script, args});
    return r.value;
  }

  close() {
    this.socket.destroy();
  }
}
