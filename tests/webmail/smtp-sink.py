#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An SMTP sink for the webmail tests: accepts every message on a loopback port and writes its
DATA byte-exact (dot-unstuffed, without the final ".") to N.eml and its envelope to N.json."""
import asyncio
import json
import os
import sys
import time


class Session:
    def __init__(self, folder, counter):
        self.folder = folder
        self.counter = counter
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt_to = []

    def save(self, data: bytes):
        n = self.counter()
        path = os.path.join(self.folder, f"{n:04d}")
        with open(path + ".eml.part", "wb") as f:
            f.write(data)
        with open(path + ".json", "w") as f:
            json.dump({"mail_from": self.mail_from, "rcpt_to": self.rcpt_to,
                       "received_at_ms": time.time() * 1000, "size": len(data)}, f)
        # The .eml appears last and whole, so a reader never sees half a message.
        os.rename(path + ".eml.part", path + ".eml")


def address(arg: str) -> str:
    start, end = arg.find("<"), arg.find(">")
    return arg[start + 1:end] if 0 <= start < end else arg.strip()


async def handle(reader, writer, folder, counter):
    try:
        await converse(reader, writer, Session(folder, counter))
    except (ConnectionResetError, BrokenPipeError):
        pass  # a client that only checked the port is listening


async def converse(reader, writer, s):

    async def reply(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    await reply("220 sink.test ESMTP ready")
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode("latin1").rstrip("\r\n")
        verb = cmd[:4].upper()
        if verb in ("EHLO", "HELO"):
            await reply("250-sink.test" if verb == "EHLO" else "250 sink.test")
            if verb == "EHLO":
                await reply("250-8BITMIME")
                await reply("250 SIZE 104857600")
        elif verb == "MAIL":
            s.reset()
            s.mail_from = address(cmd[cmd.find(":") + 1:])
            await reply("250 OK")
        elif verb == "RCPT":
            s.rcpt_to.append(address(cmd[cmd.find(":") + 1:]))
            await reply("250 OK")
        elif verb == "DATA":
            if s.mail_from is None or not s.rcpt_to:
                await reply("503 need MAIL and RCPT")
                continue
            await reply("354 go ahead")
            chunks = []
            while True:
                data_line = await reader.readline()
                if not data_line:
                    return
                if data_line == b".\r\n":
                    break
                # RFC 5321 section 4.5.2: a leading dot was doubled by the client.
                chunks.append(data_line[1:] if data_line.startswith(b".") else data_line)
            s.save(b"".join(chunks))
            s.reset()
            await reply("250 OK queued")
        elif verb == "RSET":
            s.reset()
            await reply("250 OK")
        elif verb == "NOOP":
            await reply("250 OK")
        elif verb == "QUIT":
            await reply("221 bye")
            break
        else:
            await reply("502 not implemented")
    writer.close()


async def main(port: int, folder: str):
    os.makedirs(folder, exist_ok=True)
    count = [len([n for n in os.listdir(folder) if n.endswith(".json")])]

    def counter():
        count[0] += 1
        return count[0]

    reader_limit = 1 << 26  # long base64-free lines are still lines
    server = await asyncio.start_server(lambda r, w: handle(r, w, folder, counter), "127.0.0.1", port,
                                        limit=reader_limit)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
