"""A small JSON-over-HTTP client for model servers, on the standard library only.

Shared by the adapters that call a served model (``openai-chat`` for captions, and image
generation servers). Stable API:

``RetryPolicy(max_retries=4, backoff_s=0.5, max_backoff_s=30.0, retry_statuses=(429, 500, 502, 503, 504))``
    How failed requests are retried: HTTP 429 and 5xx answers, timeouts, refused or dropped
    connections and truncated bodies are retried up to ``max_retries`` times (at most
    ``MAX_RETRIES``), waiting ``backoff_s * 2**attempt`` seconds (capped, with jitter) or
    the server's ``Retry-After`` when it sends one (capped too). Other 4xx answers fail at
    once. One request, retries and waits included, therefore takes at most
    ``(max_retries + 1) * timeout_s + max_retries * max_backoff_s``.

``JsonHttpClient(base_url, *, api_key_env=None, timeout_s=60.0, retry=RetryPolicy(), concurrency=4, headers=None,
max_answer_bytes=64 MiB)``
    ``post_json(path, payload) -> Any``: one POST with retries, the decoded JSON answer.
    ``map_post_json(path, payloads) -> list[Any]``: many POSTs, at most ``concurrency`` in
    flight (threads), answers in the order of ``payloads``; the first failure cancels
    the requests not yet started and is raised.
    ``get_json(path) -> Any``: one GET with retries.
    ``timeout_s`` is a deadline for the whole of one attempt (connection, headers and
    body), not for each read: a server that trickles its answer still times out. An answer
    over ``max_answer_bytes`` is refused without being read whole.

``api_key_from_env(name) -> str | None``
    The key in environment variable ``name`` (None when unset or empty).

``HttpError(MugeEvalError)``
    Raised when a request fails for good; ``status`` is the last HTTP status (None for a
    network failure). Its message names the URL and status and quotes at most 300
    characters of the answer, with the key removed.

The API key is read from the environment when a request is sent and goes only into the
``Authorization: Bearer`` header of requests to the ``base_url``'s origin: redirects are
not followed (a redirect fails with a message naming where it pointed), so the key never
reaches another origin. It is never stored on the client, logged, put in an exception,
recorded in results or written to a cache: any copy of it in a server's answer (a server
that echoes request headers, as it is or written with JSON escapes) is replaced by
``<redacted>`` before the answer is used or quoted.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from muge_eval.errors import MugeEvalError, UsageError
from muge_eval.io.safe_json import JsonProblem, parse_json
from muge_eval.models.http_transport import TransportFailure, origin, send

BODY_EXCERPT = 300
MAX_RETRIES = 100
MAX_CONCURRENCY = 256
DEFAULT_MAX_ANSWER_BYTES = 64 << 20
REDACTED = "<redacted>"
# Shorter keys are placeholders (vLLM's "EMPTY"), not secrets: redacting them from answers
# would rewrite captions that happen to contain them. Messages are always redacted.
MIN_REDACTED_IN_ANSWERS = 8
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


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
        """Seconds to wait before retry number ``attempt`` (0-based), at most ``max_backoff_s``."""
        if retry_after:
            try:
                wanted = float(retry_after)
            except ValueError:
                wanted = float("nan")  # an HTTP date: fall back to our own backoff
            if wanted == wanted:  # not NaN
                return max(0.0, min(wanted, self.max_backoff_s))
        base = min(self.max_backoff_s, self.backoff_s * (2 ** min(attempt, 64)))
        return base * (0.5 + rng.random() / 2)


def api_key_from_env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    return value or None


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret`` (as it is, JSON-escaped or URL-encoded) or any bearer token."""
    if secret:
        for form in {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def _without_key(value: Any, key: str) -> Any:
    """``value`` with ``key`` replaced in every string in it (nesting is bounded by parse_json)."""
    if isinstance(value, str):
        return value.replace(key, REDACTED)
    if isinstance(value, list):
        return [_without_key(item, key) for item in value]
    if isinstance(value, dict):
        return {_without_key(k, key): _without_key(v, key) for k, v in value.items()}
    return value


def _escaped_character(match: re.Match[str]) -> str:
    if not match.group(1):
        return _SIMPLE[match.group(2)]
    code = int(match.group(1), 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate cannot be printed


def _unescaped(text: str) -> str:
    """JSON string escapes resolved (``\\u0073k-...`` is the key too), for a quoted excerpt."""
    return _JSON_ESCAPE.sub(_escaped_character, text)


def _excerpt(body: bytes, secret: str | None) -> str:
    text = redact(_unescaped(body[: BODY_EXCERPT * 8].decode("utf-8", errors="replace")), secret)
    text = text.strip().replace("\n", " ")
    return text[:BODY_EXCERPT] + ("..." if len(text) > BODY_EXCERPT else "")


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class JsonHttpClient:
    """JSON requests to one server with deadlines, size caps, retries and bounded concurrency."""

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
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"base URL must start with http:// or https://, got {base_url[:60]!r}")
        if "@" in urllib.parse.urlsplit(base_url).netloc:
            raise UsageError("base URL must not hold credentials (user:password@): use api_key_env")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency}")
        if not 0 < timeout_s < float("inf"):
            raise UsageError(f"timeout must be positive, got {timeout_s}")
        self.retry = retry or RetryPolicy()
        if not 0 <= self.retry.max_retries <= MAX_RETRIES:
            raise UsageError(f"max_retries must be from 0 to {MAX_RETRIES}, got {self.retry.max_retries}")
        if not (0 <= self.retry.backoff_s <= self.retry.max_backoff_s < float("inf")):
            raise UsageError("backoff must be from 0 to max_backoff_s, a finite number of seconds")
        if max_answer_bytes < 1:
            raise UsageError(f"max_answer_bytes must be positive, got {max_answer_bytes}")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.max_answer_bytes = max_answer_bytes
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    @classmethod
    def for_adapter(
        cls, base_url: str, api_key_env: str, timeout_s: float, max_retries: int, backoff_s: float, concurrency: int
    ) -> JsonHttpClient:
        """The client an adapter's flat options describe (``--model-arg max_retries=...``)."""
        return cls(
            base_url,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            retry=RetryPolicy(max_retries=max_retries, backoff_s=backoff_s),
            concurrency=concurrency,
        )

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/") if path else self.base_url

    def _key(self) -> str | None:
        key = api_key_from_env(self.api_key_env)
        if key is not None and not key.isprintable():
            raise UsageError(f"the API key in ${self.api_key_env} holds control characters")
        return key

    def _request_headers(self, key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self._headers}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _once(self, method: str, url: str, body: bytes | None) -> Any:
        key = self._key()
        try:
            headers = self._request_headers(key)
            answer = send(method, url, body, headers, deadline_s=self.timeout_s, max_bytes=self.max_answer_bytes)
        except TransportFailure as failure:
            if failure.retryable:
                raise _Retryable(redact(failure.reason, key)) from None
            raise HttpError(f"{method} {url} failed: {redact(failure.reason, key)}") from None
        status = answer.status
        if 300 <= status < 400:
            target = urllib.parse.urljoin(url, answer.headers.get("location", ""))
            raise HttpError(
                f"{method} {url} answered HTTP {status}, a redirect to {redact(origin(target), key)}: "
                f"redirects are not followed, so the API key goes only to {origin(url)} "
                "(set base_url to the address that answers)",
                status,
            )
        if status in self.retry.retry_statuses:
            raise _Retryable(f"HTTP {status}: {_excerpt(answer.body, key)}", status, answer.headers.get("retry-after"))
        if not 200 <= status < 300:
            raise HttpError(f"{method} {url} failed with HTTP {status}: {_excerpt(answer.body, key)}", status)
        raw = answer.body
        if key is not None and len(key) >= MIN_REDACTED_IN_ANSWERS:
            raw = redact(raw.decode("utf-8", errors="replace"), key).encode("utf-8")
        try:
            text = raw.decode("utf-8")
            value = parse_json(text)
        except (JsonProblem, UnicodeDecodeError) as exc:
            reason = exc.message if isinstance(exc, JsonProblem) else "not UTF-8"
            quoted = _excerpt(raw, key)
            raise HttpError(f"{method} {url} answered with invalid JSON ({reason}): {quoted}", status) from None
        if key is not None and len(key) >= MIN_REDACTED_IN_ANSWERS and "\\" in text:
            value = _without_key(value, key)  # a server may write the key with \u escapes
        return value

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
