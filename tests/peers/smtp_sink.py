#!/usr/bin/env python3
"""SMTP sink for the delivery tests: PyPI's aiosmtpd, every message saved whole.

Listens on 127.0.0.1 (port from argv[1]; 0 = any free one) and prints `PORT <n>` once bound.
Each message is written to the directory argv[2] as `<n>.eml` (the bytes received after DATA)
with `<n>.json` beside it: the envelope sender and recipients and the AUTH login used. No TLS:
the client must fall back to plain SMTP, which Sealpost does only for a loopback server. With
argv[3] `user:password`, AUTH (PLAIN or LOGIN) with exactly those is required before MAIL.
With an argument `tls=CERT:KEY` (PEM files), STARTTLS is offered and required before MAIL,
and each message's JSON also says whether it came over TLS (`"tls"`).
"""
import asyncio
import json
import os
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

LOCK = threading.Lock()


class Sink:
    def __init__(self, directory, tls):
        self.directory = directory
        self.tls = tls
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        with LOCK:
            self.count += 1
            n = self.count
        base = os.path.join(self.directory, f"{n:05d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        login = session.auth_data if session.authenticated else None
        record = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "login": login}
        if self.tls:
            record["tls"] = session.ssl is not None
        with open(base + ".json", "w") as f:
            json.dump(record, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    if port == 0:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    options = {}
    extra = sys.argv[3:]
    for arg in [a for a in extra if a.startswith("tls=")]:
        cert, key = arg[len("tls="):].split(":", 1)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options.update({"tls_context": context, "require_starttls": True})
    logins = [a for a in extra if not a.startswith("tls=")]
    if logins:
        user, password = logins[0].split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        options.update({"authenticator": authenticator, "auth_required": True,
                        "auth_require_tls": False})
    controller = Controller(Sink(sys.argv[2], "tls_context" in options), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print(f"PORT {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
