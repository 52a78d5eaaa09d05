"""How numbers are written on the site and in its CSV files."""

from __future__ import annotations

import json
from typing import Any


def format_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit == "percent" or abs(value) >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.4f}"


def json_text(value: Any) -> str:
    """Any JSON value as readable text (escaped by the templates like every other string)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
