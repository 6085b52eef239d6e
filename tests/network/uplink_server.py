"""A small standalone stand-in for central's uplink endpoints (stdlib HTTP server).

Serves the agreed ``/api/v1/uplink/{ping,download,upload}`` with bearer-token checks, plus
knobs a test needs: lose chosen probes (the connection is closed without an answer), pace the
download at a fixed rate, or count upload bytes wrongly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CAP = 50 * 1024 * 1024


class UplinkState:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lost_probes: set[int] = set()       # 0-based probe numbers answered by a hang-up
        self.download_rate_bps: float = 0.0      # bytes per second; 0 = as fast as possible
        self.miscount_upload = False
        self.probes_seen = 0
        self.lock = threading.Lock()


class UplinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UplinkHttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output quiet

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.state.token}":
            return True
        self._reply(401, b'{"detail":"bad token"}', "application/json")
        return False

    def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        url = urlparse(self.path)
        if not self._authorised():
            return
        state = self.server.state
        if url.path == "/api/v1/uplink/ping":
            with state.lock:
                n = state.probes_seen
                state.probes_seen += 1
            if n in state.lost_probes:
                self.close_connection = True
                return  # hang up without an answer: the probe is lost
            self._reply(204)
        elif url.path == "/api/v1/uplink/download":
            try:
                size = int(parse_qs(url.query).get("bytes", ["0"])[0])
            except ValueError:
                self._reply(422, b'{"detail":"bytes must be an integer"}')
                return
            if not 0 <= size <= CAP:
                self._reply(422, b'{"detail":"bytes out of range"}')
                return
            self._send_paced(size, state.download_rate_bps)
        else:
            self._reply(404, b'{"detail":"not found"}')

    def _send_paced(self, size: int, rate: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        chunk = b"\xa5" * 16384
        started = time.monotonic()
        sent = 0
        while sent < size:
            part = chunk[: size - sent]
            self.wfile.write(part)
            sent += len(part)
            if rate:
                # Emulate a link of ``rate`` bytes/s: the next chunk leaves no earlier than due.
                due = started + sent / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if not self._authorised():
            return
        if urlparse(self.path).path != "/api/v1/uplink/upload":
            self._reply(404, b'{"detail":"not found"}')
            return
        remaining = int(self.headers.get("Content-Length", "0"))
        counted = 0
        while remaining:
            data = self.rfile.read(min(remaining, 65536))
            if not data:
                break
            counted += len(data)
            remaining -= len(data)
        if self.server.state.miscount_upload:
            counted //= 2
        self._reply(200, json.dumps({"bytes": counted}).encode())


class UplinkHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, state: UplinkState) -> None:
        super().__init__((host, 0), UplinkHandler)
        self.state = state

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def serve_uplink(host: str, token: str) -> Iterator[UplinkHttpServer]:
    server = UplinkHttpServer(host, UplinkState(token))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
