#!/usr/bin/env python3
"""SMTP sink for the delivery tests: PyPI's aiosmtpd, every message saved whole.

Listens on 127.0.0.1 (port from argv[1]; 0 = any free one) and prints `PORT <n>` once bound.
Each message is written to the directory argv[2] as `<n>.eml` (the bytes received after DATA)
with `<n>.json` beside it: the envelope sender and recipients. No TLS and no AUTH: the
client must fall back to plain SMTP, which Sealpost does only for a loopback server without
credentials.
"""
import asyncio
import json
import os
import socket
import sys
import threading

from aiosmtpd.controller import Controller

LOCK = threading.Lock()


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        with LOCK:
            self.count += 1
            n = self.count
        base = os.path.join(self.directory, f"{n:05d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    if port == 0:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    controller = Controller(Sink(sys.argv[2]), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"PORT {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
