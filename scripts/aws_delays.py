#!/usr/bin/env python3
"""AWS's own delays in front of the emulator: a proxy of the project's own (tests/aws_delays.rs
and scripts/bench use it) that adds a fixed latency to every call, as a region's round trip
does, and, on request, the two delays moto does not show:

- IAM propagation (--propagation P): for P seconds after CreateRole, CreateFunction and
  UpdateFunctionConfiguration naming that role get Lambda's 400
  InvalidParameterValueException "The role defined for the function cannot be assumed by
  Lambda." (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html).
- Lambda's asynchronous states (--pending Q): for Q seconds after CreateFunction the function
  reads `State: Pending`, after UpdateFunctionConfiguration or UpdateFunctionCode
  `LastUpdateStatus: InProgress`, and a further update in that window gets AWS's 409
  ResourceConflictException (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).

    python3 scripts/aws_delays.py --upstream 4566 [--latency-ms 50] [--propagation 6] [--pending 2]

prints `listening on <port>` and serves until stopped. GET /__delays answers what it did as
JSON: {"propagation_refusals", "conflicts", "pending_reads", "in_progress_reads", "calls"}.
GET /__trace answers the calls since the last /__trace as [operation, start, end] (seconds,
one monotonic clock), to see which calls waited for which.
Standard library only.
"""

import argparse
import http.client
import http.server
import json
import re
import socket
import socketserver
import sys
import threading
import time
from urllib.parse import parse_qs, unquote

READ_PREFIXES = ("Get", "List", "Describe", "Head")
LAMBDA = re.compile(r"^/2015-03-31/functions(?:/([^/?]+))?(/configuration|/code)?/?(?:\?.*)?$")


class Trace:
    """Every call through the proxy: (operation, start, end)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []

    def add(self, op, start, end):
        with self.lock:
            self.calls.append((op, start, end))

    def take(self):
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


def operation(method, path, headers, body):
    """The AWS operation of a request, for counting reads and mutations."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    m = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body or b"")
    if m:
        return m.group(1).decode()
    m = LAMBDA.match(path)
    if m:
        name, part = m.group(1), m.group(2)
        return {
            ("POST", False, None): "CreateFunction",
            ("GET", True, None): "GetFunction",
            ("DELETE", True, None): "DeleteFunction",
            ("GET", True, "/configuration"): "GetFunctionConfiguration",
            ("PUT", True, "/configuration"): "UpdateFunctionConfiguration",
            ("PUT", True, "/code"): "UpdateFunctionCode",
        }.get((method, name is not None, part), f"{method} {path.split('?')[0]}")
    query = path.split("?", 1)[1] if "?" in path else ""
    words = {w.split("=", 1)[0] for w in query.split("&") if w}
    if method == "GET" and "versions" in words:
        return "ListObjectVersions"
    if method == "POST" and "delete" in words:
        return "DeleteObjects"
    if method in ("GET", "HEAD"):
        return f"{method.capitalize()} {path.split('?')[0]}"
    return f"{method} {path.split('?')[0]}"


def is_read(op):
    return op.startswith(READ_PREFIXES) or op.startswith(("Get ", "Head "))


def function_of(name):
    """A function's name from the path's name or (URL-encoded) ARN."""
    return unquote(name or "").rsplit(":", 1)[-1]


def role_of(arn):
    return (arn or "").rsplit("/", 1)[-1]


class Delays:
    """What AWS would still be doing: roles propagating, functions pending or updating."""

    def __init__(self, propagation, pending):
        self.propagation = propagation
        self.pending = pending
        self.lock = threading.Lock()
        self.roles = {}  # role name -> when it was created
        self.created = {}  # function -> when it was created
        self.updated = {}  # function -> when its last update started
        self.counts = {"propagation_refusals": 0, "conflicts": 0, "pending_reads": 0,
                       "in_progress_reads": 0, "calls": 0}

    def count(self, what):
        with self.lock:
            self.counts[what] += 1

    def young(self, role):
        with self.lock:
            t = self.roles.get(role)
        return t is not None and time.monotonic() < t + self.propagation

    def busy(self, fn):
        now = time.monotonic()
        with self.lock:
            return (now < self.created.get(fn, -1e9) + self.pending
                    or now < self.updated.get(fn, -1e9) + self.pending)

    def state(self, fn):
        """(pending, in progress) for the function now."""
        now = time.monotonic()
        with self.lock:
            return (now < self.created.get(fn, -1e9) + self.pending,
                    now < self.updated.get(fn, -1e9) + self.pending)

    def mark(self, table, key):
        with self.lock:
            getattr(self, table)[key] = time.monotonic()

    def forget(self, fn):
        with self.lock:
            self.created.pop(fn, None)
            self.updated.pop(fn, None)


def lambda_error(status, code, message):
    body = json.dumps({"Type": "User", "message": message}).encode()
    return status, [("x-amzn-ErrorType", code), ("Content-Type", "application/json")], body


def rewrite(config, pending, in_progress):
    if pending:
        config["State"] = "Pending"
        config["StateReason"] = "The function is being created."
        config["StateReasonCode"] = "Creating"
    if in_progress:
        config["LastUpdateStatus"] = "InProgress"
        config["LastUpdateStatusReason"] = "The function is being updated."
        config["LastUpdateStatusReasonCode"] = "Updating"


def start_proxy(upstream_port, latency, trace, propagation=0.0, pending=0.0, port=0):
    """Starts the proxy on 127.0.0.1 (a free port unless `port`); (port, Delays)."""
    delays = Delays(propagation, pending)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # buffer the response: one write per response, no Nagle stalls

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.upstream = None

        def forward(self, body, headers):
            for attempt in range(2):
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                    self.upstream.connect()
                    self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream.getresponse()
                    return resp.status, resp.getheaders(), resp.read()
                except (http.client.HTTPException, OSError):
                    self.upstream.close()
                    self.upstream = None
                    if attempt:
                        raise

        def log_message(self, *args):
            pass

        def answer(self, status, headers, data):
            self.send_response_only(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()

        def handle_one(self):
            start = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/__delays":
                with delays.lock:
                    data = json.dumps(delays.counts).encode()
                return self.answer(200, [("Content-Type", "application/json")], data)
            if self.path == "/__trace":
                data = json.dumps(trace.take()).encode()
                return self.answer(200, [("Content-Type", "application/json")], data)
            time.sleep(latency)  # the region's round trip
            op = operation(self.command, self.path, self.headers, body)
            delays.count("calls")
            answer = self.with_delays(op, body)
            self.answer(*answer)
            trace.add(op, start, time.monotonic())

        def with_delays(self, op, body):
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            m = LAMBDA.match(self.path)
            fn = function_of(m.group(1)) if m else ""
            request = {}
            if op in ("CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode"):
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = {}
            if op == "CreateFunction":
                fn = request.get("FunctionName", "")
            if op in ("UpdateFunctionConfiguration", "UpdateFunctionCode") and delays.busy(fn):
                delays.count("conflicts")
                return lambda_error(409, "ResourceConflictException",
                                    "The operation cannot be performed at this time. An update is in "
                                    f"progress for resource: arn:aws:lambda:us-east-1:123456789012:function:{fn}")
            if op in ("CreateFunction", "UpdateFunctionConfiguration") and delays.young(role_of(request.get("Role"))):
                delays.count("propagation_refusals")
                return lambda_error(400, "InvalidParameterValueException",
                                    "The role defined for the function cannot be assumed by Lambda.")
            status, out_headers, data = self.forward(body, headers)
            ok = 200 <= status < 300
            if ok and op == "CreateRole":
                name = parse_qs(body.decode(errors="replace")).get("RoleName", [""])[0]
                delays.mark("roles", name)
            if ok and op == "CreateFunction":
                delays.mark("created", fn)
            if ok and op in ("UpdateFunctionConfiguration", "UpdateFunctionCode"):
                delays.mark("updated", fn)
            if ok and op == "DeleteFunction":
                delays.forget(fn)
            if ok and op in ("CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode",
                             "GetFunctionConfiguration", "GetFunction"):
                pending, in_progress = delays.state(fn)
                if pending or in_progress:
                    try:
                        doc = json.loads(data)
                    except ValueError:
                        doc = None
                    if isinstance(doc, dict):
                        rewrite(doc.get("Configuration", doc) if op == "GetFunction" else doc,
                                pending, in_progress)
                        data = json.dumps(doc).encode()
                        if op in ("GetFunctionConfiguration", "GetFunction"):
                            delays.count("pending_reads" if pending else "in_progress_reads")
            return status, out_headers, data

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_one

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        # The default backlog of 5 drops connections when a deploy opens many at once, and the
        # client's SYN retry then costs a second: not what a region does.
        request_queue_size = 1024

    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1], delays


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", type=int, required=True, help="the emulator's port on 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
    p.add_argument("--propagation", type=float, default=0.0, help="seconds a new role is not assumable")
    p.add_argument("--pending", type=float, default=0.0, help="seconds a function is Pending / InProgress")
    args = p.parse_args()
    port, _ = start_proxy(args.upstream, args.latency_ms / 1000, Trace(), args.propagation,
                          args.pending, args.port)
    print(f"listening on {port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
