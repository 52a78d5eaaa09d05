"""Which strings from a results file or a board may become links on the site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def is_http_url(value: Any) -> bool:
    """An ``http(s)`` URL with a host and no whitespace or control characters."""
    if not isinstance(value, str) or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # a malformed host ("http://[::1")
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
