"""A small JSON-over-HTTP client with timeouts, retries and key handling (stdlib only).

Retries connection errors, timeouts, 408, 409, 429 and 5xx with exponential backoff
(honouring a numeric ``Retry-After``); other HTTP errors fail at once with the server's
message. The API key is sent as a bearer token and never appears in messages.
NOTE for the lead: the captioning branch adds ``muge_eval/models/http_client.py``; this one
can be folded into it after the merge.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from muge_eval.errors import UsageError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class HTTPRequestError(UsageError):
    """A request that failed for good (after retries, or at once for a client error)."""


def resolve_api_key(api_key: str | None, api_key_env: str) -> str | None:
    """An explicit key, else the environment variable's value, else None."""
    if api_key:
        return api_key
    return os.environ.get(api_key_env) or None


@dataclass(frozen=True)
class JsonHttpClient:
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def _request(self, path: str, payload: Mapping[str, Any]) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        return urllib.request.Request(url, json.dumps(payload).encode(), headers, method="POST")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return self.backoff_s * (2**attempt)

    def post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                with urllib.request.urlopen(self._request(path, payload), timeout=self.timeout_s) as response:
                    body = response.read()
                try:
                    return json.loads(body)
                except json.JSONDecodeError as exc:
                    raise HTTPRequestError(f"{self.base_url}{path}: the response is not JSON ({exc})") from exc
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                last = f"HTTP {exc.code}: {detail}"
                if exc.code not in RETRY_STATUS:
                    hint = " (check the API key)" if exc.code in (401, 403) else ""
                    raise HTTPRequestError(f"{self.base_url}{path}: {last}{hint}") from exc
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if attempt < self.max_retries:
                self.sleep(self._delay(attempt, retry_after))
        raise HTTPRequestError(f"{self.base_url}{path}: failed after {self.max_retries + 1} attempts, last: {last}")
