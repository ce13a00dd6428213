// SPDX-License-Identifier: MIT
// A stand-in for runtime.Port in node tests: records what the client posts and lets the test
// deliver host frames or close the port with a browser's reason.
export class FakePort {
  constructor() {
    this.sent = [];
    this.messageListeners = [];
    this.disconnectListeners = [];
    this.closed = false;
    this.error = undefined;
    this.onMessage = {addListener: (fn) => this.messageListeners.push(fn)};
    this.onDisconnect = {addListener: (fn) => this.disconnectListeners.push(fn)};
  }
  postMessage(message) {
    if (this.closed) throw new Error("Attempting to use a disconnected port object");
    // Browsers serialise to JSON; a copy keeps the test honest about what crossed.
    this.sent.push(JSON.parse(JSON.stringify(message)));
  }
  disconnect() {
    this.closed = true;
  }
  deliver(message) {
    for (const fn of this.messageListeners) fn(JSON.parse(JSON.stringify(message)));
  }
  hostExits(reason) {
    this.closed = true;
    this.error = reason === undefined ? undefined : {message: reason};
    for (const fn of this.disconnectListeners) fn();
  }
}

export function fakeConnector() {
  const ports = [];
  return {
    ports,
    connect: () => {
      const port = new FakePort();
      ports.push(port);
      return port;
    },
    disconnectReason: (port) => port.error?.message,
  };
}
