"""One HTTP exchange with hard limits, on the standard library only.

``send`` makes one request and returns the status, headers and body of the answer, with:

* a total deadline: connecting, sending, the status line, the headers and the body all
  finish within ``deadline_s``, or the socket is shut and the exchange fails. A socket
  timeout alone bounds each read, so a server that trickles a byte a second would never
  time out;
* a size cap: an answer whose ``Content-Length`` is over ``max_bytes`` is refused before
  it is read, and reading stops as soon as a body passes the cap;
* no redirects: a 3xx answer is returned as it is, so credentials are never sent to the
  place it points to (the caller decides);
* the proxy of the environment (``http_proxy``/``https_proxy``/``no_proxy``), as urllib
  would use it.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

READ_SIZE = 1 << 16


class TransportFailure(Exception):
    """An exchange that did not produce a whole answer; ``retryable`` when trying again may help."""

    def __init__(self, reason: str, retryable: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class HttpAnswer:
    """An answer as it came; header names lower-cased."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (no path, no user info)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def same_origin(a: str, b: str) -> bool:
    def key(url: str) -> tuple[str, str, int | None]:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        return parts.scheme.lower(), (parts.hostname or "").lower(), port or (443 if parts.scheme == "https" else 80)

    return key(a) == key(b)


def _proxy_for(scheme: str, host: str) -> urllib.parse.SplitResult | None:
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    return urllib.parse.urlsplit(proxy)


def _proxy_headers(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    user = urllib.parse.unquote(proxy.username)
    password = urllib.parse.unquote(proxy.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


def _connection(url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for ``url``, the request target to send, and headers for the proxy."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportFailure(f"not an http(s) URL: {origin(url)}", retryable=False)
    try:
        port = parts.port
    except ValueError:
        raise TransportFailure("the URL has an invalid port", retryable=False) from None
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection_class: type[http.client.HTTPConnection] = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    proxy = _proxy_for(parts.scheme, parts.hostname)
    if proxy is None:
        return connection_class(parts.hostname, port, timeout=timeout_s), target, {}
    proxy_connection_class: type[http.client.HTTPConnection] = (
        http.client.HTTPSConnection if proxy.scheme == "https" else http.client.HTTPConnection
    )
    if parts.scheme == "https":  # a CONNECT tunnel: the proxy sees neither the request nor the key
        tunnel = http.client.HTTPSConnection(proxy.hostname or "", proxy.port, timeout=timeout_s)
        tunnel.set_tunnel(parts.hostname, port, headers=_proxy_headers(proxy))
        return tunnel, target, {}
    plain = proxy_connection_class(proxy.hostname or "", proxy.port, timeout=timeout_s)
    return plain, url, _proxy_headers(proxy)


class _Watchdog:
    """Shuts a connection's socket when the deadline passes, whatever it is waiting for."""

    def __init__(self, connection: http.client.HTTPConnection, deadline_s: float):
        self.connection = connection
        self.fired = False
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            with suppress(OSError):  # the plain socket's shutdown, also under TLS: a blocked read returns
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _read_body(response: http.client.HTTPResponse, max_bytes: int, deadline: float, watchdog: _Watchdog) -> bytes:
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise TransportFailure(f"the answer is {int(length):,} bytes, over the limit of {max_bytes:,}", False)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = response.read1(READ_SIZE)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise TransportFailure(f"the answer is over the limit of {max_bytes:,} bytes", retryable=False)
        parts.append(chunk)
        if watchdog.fired or time.monotonic() > deadline:
            raise TransportFailure("timed out")
    if watchdog.fired:
        raise TransportFailure("timed out")
    return b"".join(parts)


def send(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    *,
    deadline_s: float,
    max_bytes: int,
) -> HttpAnswer:
    """One request; the whole answer within ``deadline_s`` and ``max_bytes``, or TransportFailure."""
    deadline = time.monotonic() + deadline_s
    connection, target, proxy_headers = _connection(url, deadline_s)
    try:
        with _Watchdog(connection, deadline_s) as watchdog:
            try:
                connection.request(method, target, body=body, headers={**headers, **proxy_headers})
                response = connection.getresponse()
                data = _read_body(response, max_bytes, deadline, watchdog)
            except TransportFailure as failure:
                if watchdog.fired and failure.retryable:
                    raise TransportFailure(f"no whole answer within {deadline_s:g} s") from None
                raise
            except ValueError:  # a header value http.client refuses: never quoted, it may be a key
                raise TransportFailure("the request has an invalid header value", retryable=False) from None
            except (OSError, http.client.HTTPException) as exc:
                if watchdog.fired:
                    raise TransportFailure(f"no whole answer within {deadline_s:g} s") from None
                if isinstance(exc, TimeoutError):
                    raise TransportFailure(f"timed out after {deadline_s:g} s") from None
                raise TransportFailure(f"connection failed: {type(exc).__name__}: {exc}") from None
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()
