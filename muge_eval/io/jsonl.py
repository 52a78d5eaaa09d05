"""JSON Lines reading that keeps line numbers, so every problem can name its line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from muge_eval.errors import InputError, Problem

UTF8_BOM = "\ufeff"


class JsonLine(NamedTuple):
    """One line of a JSONL file: its 1-based number and value, or why it did not parse."""

    number: int
    value: Any
    error: str | None = None


def open_text(path: Path, what: str = "file") -> str:
    """Read a UTF-8 text file (a leading BOM is accepted and dropped)."""
    if not path.exists():
        raise InputError([Problem(str(path), f"{what} not found")], f"missing {what}")
    if path.is_dir():
        raise InputError([Problem(str(path), f"{what} is a directory, expected a file")], f"invalid {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(path), f"not UTF-8 text (byte {exc.start})")], f"invalid {what}") from exc
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read: {exc.strerror}")], f"invalid {what}") from exc
    return text.removeprefix(UTF8_BOM)


def iter_json_lines(path: Path, what: str = "file", allow_trailing_newline: bool = True) -> Iterator[JsonLine]:
    """Each line parsed as JSON. A blank line is a problem, except at the very end of the file."""
    text = open_text(path, what)
    lines = text.split("\n")
    if allow_trailing_newline and lines and lines[-1] == "":
        lines.pop()
    lines = [raw.rstrip("\r") for raw in lines]
    # Fast path: a well-formed file parses in one call. It is taken only when the array has
    # exactly one element per line, which holds only if every line is one JSON value.
    if all(raw.strip() for raw in lines):
        try:
            values = json.loads("[" + ",".join(lines) + "]")
        except json.JSONDecodeError:
            values = None
        if values is not None and len(values) == len(lines):
            for number, value in enumerate(values, start=1):
                yield JsonLine(number, value)
            return
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            yield JsonLine(number, None, "blank line (every line must be one JSON object)")
            continue
        try:
            yield JsonLine(number, json.loads(raw))
        except json.JSONDecodeError as exc:
            yield JsonLine(number, None, f"not valid JSON ({exc.msg} at column {exc.colno})")


def is_json_int(value: Any) -> bool:
    """A JSON integer: ``True``/``False`` are not integers here, nor is ``1.0``.

    ``json`` decodes integers to exactly ``int``, so an exact type check suffices (and is
    the fast path when validating millions of ids).
    """
    return type(value) is int
