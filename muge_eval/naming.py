"""File-system-safe names for folders and files named after tasks and models."""

from __future__ import annotations

import re


def safe_name(text: str) -> str:
    """``text`` with every run of characters other than letters, digits, '.', '_' and '-'
    replaced by one '_' (never empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"
