"""Hub ids that cannot be reached fail at once, not after minutes of retries.

transformers and `datasets` retry a hub they cannot reach for half a minute or more per
file. Before loading a hub id, muge-eval checks that the hub answers (one connection,
a few seconds at most); when it does not, or when the user set offline mode
(``HF_HUB_OFFLINE=1``), models are loaded from the local hub cache only, and a model or
data set that is not there is one clear error.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
CONNECT_TIMEOUT_S = 3.0


def offline_requested() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on") for name in OFFLINE_VARIABLES)


def endpoint() -> tuple[str, int]:
    """(host, port) of the hub (``HF_ENDPOINT`` or huggingface.co)."""
    parts = urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    host = parts.hostname or "huggingface.co"
    return host, parts.port or (80 if parts.scheme == "http" else 443)


def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a connection to the hub opens within ``timeout`` seconds."""
    host, port = endpoint()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_local(source: str) -> bool:
    """A path, not a hub id: it exists, or it is spelled as a path (a hub id is ``name`` or
    ``namespace/name``)."""
    return source.startswith(("/", ".", "~")) or source.count("/") > 1 or Path(source).expanduser().exists()


def cache_only(source: str) -> bool:
    """For a hub id: load from the local cache only (offline mode, or the hub is down)."""
    return not is_local(source) and (offline_requested() or not hub_reachable())


def not_cached_message(source: str) -> str:
    host, port = endpoint()
    why = "offline mode is set" if offline_requested() else f"the hub ({host}:{port}) cannot be reached"
    return f"{source!r} is not a local path, {why}, and it is not in the local hub cache"
