// SPDX-License-Identifier: MIT
// Runs the real smime-host as a browser does and gives the host client a port over it: each
// message framed as a 4-byte native-endian length and UTF-8 JSON, the caller origin as argv[1],
// and the browser's limits checked on every frame the host sends (at most 1 MiB).
import {spawn} from "node:child_process";
import {existsSync} from "node:fs";
import {fileURLToPath} from "node:url";

export const MAX_FRAME_FROM_HOST = 1_048_576;

export function hostBinary() {
  const path = process.env.SMIME_HOST_BINARY ??
    fileURLToPath(new URL("../../build/default/host/smime-host", import.meta.url));
  if (!existsSync(path)) throw new Error(`no smime-host at ${path}: build it (cmake --build --preset default --target smime-host) or set SMIME_HOST_BINARY`);
  return path;
}

/** A NativePort over a host process. `stats.frames` counts frames, `stats.largest` the largest. */
export class FramedHostPort {
  constructor(binary, env, origin = "chrome-extension://ccgbafjenekegigiangliopjibofedkd/") {
    this.messageListeners = [];
    this.disconnectListeners = [];
    this.error = undefined;
    this.stats = {frames: 0, largest: 0, oversized: 0};
    this.onMessage = {addListener: (fn) => this.messageListeners.push(fn)};
    this.onDisconnect = {addListener: (fn) => this.disconnectListeners.push(fn)};
    this.buffer = Buffer.alloc(0);
    this.child = spawn(binary, [origin], {env: {...process.env, ...env}, stdio: ["pipe", "pipe", "inherit"]});
    this.exited = new Promise((resolve) => {
      this.child.on("exit", resolve);
      this.child.on("error", resolve);
    });
    this.child.on("error", (e) => this.close(e.code === "ENOENT" ? "Specified native messaging host not found." : e.message));
    this.child.on("exit", () => this.close("Native host has exited."));
    this.child.stdout.on("data", (data) => this.read(data));
    this.child.stdin.on("error", () => {});
  }

  read(data) {
    this.buffer = Buffer.concat([this.buffer, data]);
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32LE(0);
      if (this.buffer.length < 4 + length) return;
      const frame = this.buffer.subarray(4, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      this.stats.frames++;
      this.stats.largest = Math.max(this.stats.largest, length);
      if (length > MAX_FRAME_FROM_HOST) this.stats.oversized++;
      const message = JSON.parse(frame.toString("utf8"));
      for (const fn of this.messageListeners) fn(message);
    }
  }

  postMessage(message) {
    if (this.closed) throw new Error("Attempting to use a disconnected port object");
    const body = Buffer.from(JSON.stringify(message), "utf8");
    const header = Buffer.alloc(4);
    header.writeUInt32LE(body.length, 0);
    this.child.stdin.write(Buffer.concat([header, body]));
  }

  disconnect() {
    this.closed = true;
    this.child.stdin.end();
  }

  close(reason) {
    if (this.closed && this.error) return;
    this.closed = true;
    this.error = {message: reason};
    for (const fn of this.disconnectListeners) fn();
  }
}
