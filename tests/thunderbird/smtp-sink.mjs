// SPDX-License-Identifier: MIT
// An SMTP sink on loopback for the Thunderbird test: accepts every message and records the
// envelope (MAIL FROM, RCPT TO) and the exact DATA bytes (dot-unstuffed, without the final dot
// line), with the time each message arrived.
import {createServer} from "node:net";

export async function startSmtpSink() {
  const messages = [];
  const waiters = [];
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let inData = false;
    let envelope = {from: "", to: []};
    socket.write("220 sink ESMTP\r\n");
    // In DATA, chunks are kept as they come and only the last bytes are searched for the end mark,
    // so a large message costs linear time.
    let chunks = [];
    let tail = Buffer.alloc(0);
    const finishData = (data) => {
      const lines = data.toString("latin1").split("\r\n").map((l) => (l.startsWith("..") ? l.slice(1) : l));
      messages.push({...envelope, data: Buffer.from(lines.join("\r\n"), "latin1"), at: performance.now()});
      envelope = {from: "", to: []};
      inData = false;
      socket.write("250 ok\r\n");
      for (const w of waiters.splice(0)) w();
    };
    socket.on("data", (chunk) => {
      if (inData) {
        chunks.push(chunk);
        tail = Buffer.concat([tail, chunk]).subarray(-5);
        if (!(tail.toString("latin1").endsWith("\r\n.\r\n"))) return;
        const all = Buffer.concat([buffer, ...chunks]);
        chunks = [];
        buffer = Buffer.alloc(0);
        finishData(all.length === 3 ? Buffer.alloc(0) : all.subarray(0, all.length - 3));
        return;
      }
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          const atStart = buffer.subarray(0, 3).toString() === ".\r\n";
          if (end < 0 && !atStart) {
            chunks = [buffer];
            tail = buffer.subarray(-5);
            buffer = Buffer.alloc(0);
            return;
          }
          const body = atStart ? Buffer.alloc(0) : buffer.subarray(0, end + 2);
          buffer = buffer.subarray(atStart ? 3 : end + 5);
          finishData(body);
          continue;
        }
        const eol = buffer.indexOf("\r\n");
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString("latin1");
        buffer = buffer.subarray(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") socket.write("250-sink\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n");
        else if (verb === "HELO") socket.write("250 sink\r\n");
        else if (verb === "MAIL") {
          envelope.from = /<([^>]*)>/.exec(line)?.[1] ?? "";
          socket.write("250 ok\r\n");
        } else if (verb === "RCPT") {
          envelope.to.push((/<([^>]*)>/.exec(line)?.[1] ?? "").toLowerCase());
          socket.write("250 ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go on\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 bye\r\n");
          return;
        } else socket.write("250 ok\r\n");
      }
    });
    socket.on("error", () => undefined);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  /** Resolves when at least `n` messages have arrived. */
  const waitFor = async (n, ms = 120_000) => {
    const end = Date.now() + ms;
    while (messages.length < n) {
      if (Date.now() > end) throw new Error(`the sink has ${messages.length} messages, expected ${n}`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 500);
      });
    }
  };
  return {messages, waitFor, port: server.address().port, close: () => server.close()};
}
