"""A small JSON-over-HTTP client for model servers, on the standard library only.

Shared by the adapters that call a served model (``openai-chat`` for captions, and image
generation servers). Stable API:

``RetryPolicy(max_retries=4, backoff_s=0.5, max_backoff_s=30.0, retry_statuses=(429, 500, 502, 503, 504))``
    How failed requests are retried: HTTP 429 and 5xx answers, timeouts, refused or dropped
    connections and truncated bodies are retried up to ``max_retries`` times, waiting
    ``backoff_s * 2**attempt`` seconds (capped, with jitter) or the server's
    ``Retry-After`` when it sends one (capped too). Other 4xx answers fail at once.

``JsonHttpClient(base_url, *, api_key_env=None, timeout_s=60.0, retry=RetryPolicy(), concurrency=4, headers=None)``
    ``post_json(path, payload) -> Any``: one POST with retries, the decoded JSON answer.
    ``map_post_json(path, payloads) -> list[Any]``: many POSTs, at most ``concurrency`` in
    flight (threads), answers in the order of ``payloads``; the first failure cancels
    the requests not yet started and is raised.
    ``get_json(path) -> Any``: one GET with retries.

``api_key_from_env(name) -> str | None``
    The key in environment variable ``name`` (None when unset or empty).

``HttpError(MugeEvalError)``
    Raised when a request fails for good; ``status`` is the last HTTP status (None for a
    network failure). Its message names the URL and status and quotes at most 300
    characters of the answer; it never contains request headers.

The API key is read from the environment when a request is sent and goes only into the
``Authorization: Bearer`` header: it is never stored on the client, logged, put in an
exception, recorded in results or written to a cache.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from muge_eval.errors import MugeEvalError, UsageError

BODY_EXCERPT = 300


class HttpError(MugeEvalError):
    """A request that failed for good (after retries, or with a non-retryable status)."""

    exit_code = 1

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)

    def delay(self, attempt: int, retry_after: str | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after:
            try:
                return max(0.0, min(float(retry_after), self.max_backoff_s))
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = min(self.max_backoff_s, self.backoff_s * (2**attempt))
        return base * (0.5 + rng.random() / 2)


def api_key_from_env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    return value or None


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text[:BODY_EXCERPT] + ("..." if len(text) > BODY_EXCERPT else "")


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class JsonHttpClient:
    """JSON requests to one server with timeouts, retries and bounded concurrency."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"base URL must start with http:// or https://, got {base_url!r}")
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, got {concurrency}")
        if timeout_s <= 0:
            raise UsageError(f"timeout must be positive, got {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/") if path else self.base_url

    def _request_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self._headers}
        key = api_key_from_env(self.api_key_env)
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _once(self, method: str, url: str, body: bytes | None) -> Any:
        request = urllib.request.Request(url, data=body, method=method, headers=self._request_headers())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read() if exc.fp is not None else b""
            if exc.code in self.retry.retry_statuses:
                raise _Retryable(
                    f"HTTP {exc.code}: {_excerpt(payload)}", exc.code, exc.headers.get("Retry-After")
                ) from None
            raise HttpError(f"{method} {url} failed with HTTP {exc.code}: {_excerpt(payload)}", exc.code) from None
        except TimeoutError as exc:
            raise _Retryable(f"timed out after {self.timeout_s:g} s ({exc})") from None
        except urllib.error.URLError as exc:
            raise _Retryable(f"connection failed: {exc.reason}") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise _Retryable(f"connection dropped: {type(exc).__name__}: {exc}") from None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HttpError(f"{method} {url} answered with invalid JSON ({exc}): {_excerpt(raw)}", 200) from None

    def request_json(self, method: str, path: str, payload: Any = None) -> Any:
        """One request with retries; the decoded JSON answer."""
        url = self.url(path)
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        attempt = 0
        while True:
            with self._slots:
                try:
                    return self._once(method, url, body)
                except _Retryable as failure:
                    last = failure
            if attempt >= self.retry.max_retries:
                raise HttpError(
                    f"{method} {url} failed after {attempt + 1} attempt(s): {last.reason}", last.status
                ) from None
            with self._rng_lock:
                delay = self.retry.delay(attempt, last.retry_after, self._rng)
            self._sleep(delay)
            attempt += 1

    def post_json(self, path: str, payload: Any) -> Any:
        return self.request_json("POST", path, payload)

    def get_json(self, path: str) -> Any:
        return self.request_json("GET", path)

    def map_post_json(self, path: str, payloads: Sequence[Any]) -> list[Any]:
        """POST every payload, at most ``concurrency`` at a time; answers in input order."""
        if not payloads:
            return []
        if len(payloads) == 1 or self.concurrency == 1:
            return [self.post_json(path, p) for p in payloads]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(payloads))) as pool:
            futures: list[Future[Any]] = [pool.submit(self.post_json, path, p) for p in payloads]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                for future in futures:
                    future.cancel()
                error = failed.exception()
                assert error is not None
                raise error
            return [f.result() for f in futures]
