"""JSON Lines reading that keeps line numbers, so every problem can name its line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from muge_eval.errors import InputError, Problem
from muge_eval.io.safe_json import JsonProblem, parse_json, parse_json_lines

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
    if not path.is_file():  # a FIFO would block the read for ever
        raise InputError([Problem(str(path), f"{what} is not a regular file")], f"invalid {what}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read: {exc.strerror}")], f"invalid {what}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = Problem(str(path), f"not UTF-8 text (byte {exc.start})", line)
        raise InputError([problem], f"invalid {what}") from None
    return text.removeprefix(UTF8_BOM)


def read_json_document(path: Path, what: str = "file", *, allow_constants: bool = True) -> Any:
    """A whole-file JSON document; every way it can be bad is one InputError naming the line."""
    text = open_text(path, what)
    try:
        return parse_json(text, allow_constants=allow_constants)
    except JsonProblem as problem:
        raise InputError([Problem(str(path), problem.message, problem.line)], f"invalid {what}") from None


def iter_json_lines(path: Path, what: str = "file", allow_trailing_newline: bool = True) -> Iterator[JsonLine]:
    """Each line parsed as JSON. A blank line is a problem, except at the very end of the file."""
    text = open_text(path, what)
    lines = text.split("\n")
    if allow_trailing_newline and lines and lines[-1] == "":
        lines.pop()
    values = parse_json_lines(lines)
    for number, (raw, value) in enumerate(zip(lines, values, strict=True), start=1):
        if not raw.strip():
            yield JsonLine(number, None, "blank line (every line must be one JSON object)")
        elif isinstance(value, JsonProblem):
            yield JsonLine(number, None, value.message)
        else:
            yield JsonLine(number, value)


def is_json_int(value: Any) -> bool:
    """A JSON integer: ``True``/``False`` are not integers here, nor is ``1.0``.

    ``json`` decodes integers to exactly ``int``, so an exact type check suffices (and is
    the fast path when validating millions of ids).
    """
    return type(value) is int
