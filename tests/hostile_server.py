"""A scripted HTTP server on 127.0.0.1 that answers the way a hostile or broken server would.

Bounded by construction: it listens on the loopback address only, every answer loop has a
fixed number of steps, request bodies over 16 MiB are not read, and the server shuts
itself down after ``lifetime_s`` even if a test forgets to.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_REQUEST_BYTES = 16 << 20


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Action = Callable[[BaseHTTPRequestHandler, Seen], None]


def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def answer_json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Action:
    return lambda handler, seen: _send(handler, status, json.dumps(document, ensure_ascii=False).encode(), headers)


def answer_bytes(data: bytes, status: int = 200) -> Action:
    return lambda handler, seen: _send(handler, status, data)


def redirect(location: str, status: int = 307) -> Action:
    return lambda handler, seen: _send(handler, status, b"", {"Location": location})


def headers_text(seen: Seen) -> str:
    return "\n".join(f"{name}: {value}" for name, value in seen.headers.items())


def echo_headers(status: int = 400, wrap: Callable[[str], Any] | None = None) -> Action:
    """The request's headers (key included) in the answer: as plain text, or inside ``wrap``."""

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        text = headers_text(seen)
        data = json.dumps(wrap(text), ensure_ascii=False).encode() if wrap else text.encode()
        _send(handler, status, data)

    return act


def escaped(text: str) -> str:
    """``text`` as a JSON string body with every character a ``\\u`` escape (still the same string)."""
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text)


def echo_key_escaped(status: int = 200, wrap: Callable[[str], Any] | None = None) -> Action:
    """The request's bearer key in the answer written with JSON ``\\u`` escapes, so that no
    literal copy of it is in the bytes: as text, or where ``wrap`` puts text in a JSON answer
    (even inside a JSON string inside it, as a judge's answer is)."""
    marker = "@@KEY@@"

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        key = escaped(seen.headers.get("Authorization", "").removeprefix("Bearer "))
        text = f"your key is {marker}"
        data = json.dumps(wrap(text), ensure_ascii=False) if wrap else text
        _send(handler, status, data.replace(marker, key).encode())

    return act


def trickle_body(steps: int = 200, interval_s: float = 0.05) -> Action:
    """Headers at once, then one byte every ``interval_s`` (each read is quick; the whole is not)."""

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(steps))
        handler.end_headers()
        for _ in range(steps):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(interval_s)

    return act


def trickle_status(steps: int = 200, interval_s: float = 0.05) -> Action:
    """The status line and headers themselves, one byte every ``interval_s``."""

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Pad-%d: x\r\n" % n for n in range(steps))
        for byte in head[:steps]:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(interval_s)

    return act


def huge_declared(length: int = 300 << 20) -> Action:
    """Headers claiming ``length`` bytes, then a trickle far shorter than that."""

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(b"[" * 1024)

    return act


def huge_streamed(total: int, block: int = 1 << 16) -> Action:
    """``total`` bytes of chunked body with no Content-Length (a JSON string that never ends)."""

    def act(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b'"' + b"a" * (block - 1)
        for _ in range(total // block):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")

    return act


class HostileServer:
    """``respond(n, seen)`` gives the action for the n-th request (from 0)."""

    def __init__(self, respond: Callable[[int, Seen], Action], lifetime_s: float = 30.0):
        self.respond = respond
        self.lifetime_s = lifetime_s
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def __enter__(self) -> HostileServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length <= MAX_REQUEST_BYTES else b""
                seen = Seen(self.command, self.path, dict(self.headers), body)
                with outer._lock:
                    number = len(outer.seen)
                    outer.seen.append(seen)
                self.close_connection = True
                with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                    outer.respond(number, seen)(self, seen)

            do_GET = do_POST = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        self._stopper = threading.Timer(self.lifetime_s, self.httpd.shutdown)
        self._stopper.daemon = True
        self._stopper.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        self._stopper.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
