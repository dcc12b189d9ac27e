#!/usr/bin/env python3
"""XML-RPC fulfillment receiver for the delivery tests (Python's xmlrpc.server).

Listens on 127.0.0.1 (port from argv[1], 0 = any free one) and prints `PORT <n>` once bound.
Methods: `mailing.trigger(*params)` records its string parameters and returns True;
`mailing.refuse(*params)` answers a fault (code 4, "unknown mailing <first param>").
`sealpost_test.calls()` returns every call recorded: the raw request body, the
Idempotency-Key header and the method and parameters as the server decoded them.
"""
import sys
import threading
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer
from socketserver import ThreadingMixIn
import xmlrpc.client

LOCK = threading.Lock()
CALLS = []


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2", "/rpc")

    def log_message(self, *args):
        pass

    def decode_request_content(self, data):
        data = super().decode_request_content(data)
        if data is not None:
            params, method = xmlrpc.client.loads(data)
            if not method.startswith("sealpost_test."):
                with LOCK:
                    CALLS.append({
                        "raw": data.decode("utf-8"),
                        "key": self.headers.get("Idempotency-Key"),
                        "contentType": self.headers.get("Content-Type"),
                        "path": self.path,
                        "method": method,
                        "params": list(params),
                    })
        return data


class Server(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True


def trigger(*params):
    return True


def refuse(*params):
    raise xmlrpc.client.Fault(4, f"unknown mailing {params[0] if params else ''}")


def calls():
    with LOCK:
        return list(CALLS)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = Server(("127.0.0.1", port), requestHandler=Handler, logRequests=False, allow_none=True)
    server.register_function(trigger, "mailing.trigger")
    server.register_function(refuse, "mailing.refuse")
    server.register_function(calls, "sealpost_test.calls")
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
