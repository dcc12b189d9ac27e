#!/usr/bin/env python3
"""HTTP fulfillment receiver for the delivery tests (Python standard library only).

Listens on 127.0.0.1 (port from argv[1], 0 = any free one) and prints `PORT <n>` once bound.
Every POST to any path other than /_control is recorded: method, path, headers, body bytes
(base64), and whether it repeated an Idempotency-Key already served (answered 2xx) — an
idempotent receiver serves such a repeat without acting on it again.

Control (JSON): POST /_control {"statuses": [500, 200], "delay_ms": 0} sets the statuses of
the next requests (then 200 for ever) and a delay before each answer; GET /_control returns
{"requests": [...], "inFlight": n}: every request recorded (when answered), in that order, and
how many requests arrived but are not answered yet.
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"statuses": [], "delay_ms": 0, "requests": [], "served": set(), "in_flight": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the tests read /_control instead
        pass

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length)

    def answer(self, status, payload=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if self.path != "/_control":
            return self.answer(404)
        with LOCK:
            payload = json.dumps({"requests": STATE["requests"], "inFlight": STATE["in_flight"]}).encode()
        self.answer(200, payload)

    def do_POST(self):
        body = self.body()
        if self.path == "/_control":
            settings = json.loads(body or b"{}")
            with LOCK:
                STATE["statuses"] = list(settings.get("statuses", []))
                STATE["delay_ms"] = int(settings.get("delay_ms", 0))
            return self.answer(200, b"{}")
        with LOCK:
            status = STATE["statuses"].pop(0) if STATE["statuses"] else 200
            delay = STATE["delay_ms"]
            STATE["in_flight"] += 1
        if delay:
            time.sleep(delay / 1000)
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            duplicate = key is not None and key in STATE["served"]
            if 200 <= status < 300 and key is not None:
                STATE["served"].add(key)
            STATE["requests"].append({
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": base64.b64encode(body).decode(),
                "status": status,
                "duplicate": duplicate,
            })
            STATE["in_flight"] -= 1
        self.answer(status, b'{"ok": true}' if status < 300 else b'{"ok": false}')


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
