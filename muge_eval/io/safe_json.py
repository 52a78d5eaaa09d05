"""Parsing JSON that a user or a server hands us: every way it can fail is one ``JsonProblem``.

The standard parser fails in ways that escape the usual ``JSONDecodeError``: nesting
deeper than the interpreter's stack (``RecursionError``), integers over the int/str
conversion limit of 4,300 digits (a plain ``ValueError``), and a duplicated key in an
object is silently resolved by keeping the later value. Here each becomes a
``JsonProblem`` that says what is wrong and, where it can, on which line; nesting is
capped at ``MAX_DEPTH`` levels so that nothing that later walks a value (a schema check,
``json.dumps``, a message) can run out of stack either.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from json.decoder import JSONObject, scanstring  # type: ignore[attr-defined]
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any

# Far deeper than any file muge-eval reads (results files nest about 5 levels).
MAX_DEPTH = 64
_SCALARS = frozenset({str, int, float, bool, type(None)})
_WHITESPACE = " \t\n\r"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Where a lone one probably is (for the message's line; the check itself is an encode).
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class JsonProblem(ValueError):
    """Why a JSON text was refused; ``line`` (1-based, in the text parsed) when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key
        self.offset: int | None = None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _refuse_constant(name: str) -> Any:
    raise JsonProblem(f"{name} is not allowed (not a JSON number)")


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` holds lists/objects more than ``limit`` levels deep (no recursion)."""
    level = [value]
    for _ in range(limit):
        deeper: list[Any] = []
        for item in level:
            if type(item) is dict:
                item = item.values()
            elif type(item) is not list:
                continue
            if _SCALARS.issuperset(map(type, item)):
                continue  # the common case, checked in C
            deeper.extend([c for c in item if type(c) is list or type(c) is dict])
        if not deeper:
            return False
        level = deeper
    return True


def _line_of(text: str, offset: int | None) -> int | None:
    return None if offset is None else text.count("\n", 0, offset) + 1


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _duplicate_offset(text: str, key: str) -> int | None:
    """Where the first repeated key of ``text`` is repeated (an error path only).

    Parses again with the standard library's pure-Python scanner, whose object parser can
    be wrapped: an object found to repeat a key is walked again from its ``{`` to the
    offset of the repeat. The text is valid JSON up to that point, as the first parse showed.
    """

    def parse_object(state: tuple[str, int], strict: bool, scan_once: Callable[..., Any], *rest: Any) -> Any:
        start = state[1]
        try:
            return JSONObject(state, strict, scan_once, None, _unique_pairs, *rest[2:])
        except _DuplicateKey as found:
            if found.offset is None:
                found.offset = _walk_to_repeat(state[0], start, strict, scan_once)
            raise

    decoder = json.JSONDecoder(object_pairs_hook=_unique_pairs)
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    scan_once = py_make_scanner(decoder)
    try:
        scan_once(text, _skip_whitespace(text, 0))
    except _DuplicateKey as found:
        return found.offset
    except (RecursionError, ValueError, IndexError, StopIteration):
        return None
    return None


def _walk_to_repeat(text: str, position: int, strict: bool, scan_once: Callable[..., Any]) -> int | None:
    """Offset of the first key of the object at ``position`` (just after ``{``) seen before."""
    seen: set[str] = set()
    while True:
        position = _skip_whitespace(text, position)
        if position >= len(text) or text[position] != '"':
            return None
        key, after = scanstring(text, position + 1, strict)
        if key in seen:
            return int(position)
        seen.add(key)
        position = _skip_whitespace(text, after) + 1  # the ':'
        _, position = scan_once(text, _skip_whitespace(text, position))
        position = _skip_whitespace(text, position) + 1  # the ',' (or the '}')


def json_decoder(allow_constants: bool = True) -> json.JSONDecoder:
    """A decoder that refuses repeated keys (and ``NaN``/``Infinity`` unless allowed);
    build one per file and pass it to ``parse_json`` for each line."""
    if allow_constants:
        return json.JSONDecoder(object_pairs_hook=_unique_pairs)
    return json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_refuse_constant)


def parse_json(
    text: str,
    *,
    max_depth: int = MAX_DEPTH,
    allow_constants: bool = True,
    decoder: json.JSONDecoder | None = None,
) -> Any:
    """The value of ``text``; raise ``JsonProblem`` for anything that is not plain JSON.

    Refused: syntax errors, nesting deeper than ``max_depth``, integers longer than the
    interpreter converts, repeated keys in one object, lone surrogate escapes, and (unless
    ``allow_constants``) ``NaN``/``Infinity``.
    """
    decoder = decoder or json_decoder(allow_constants)
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
    except _DuplicateKey as duplicate:
        line = _line_of(text, _duplicate_offset(text, duplicate.key))
        raise JsonProblem(f"key {duplicate.key[:60]!r} appears twice in one object", line) from None
    except RecursionError:
        raise JsonProblem(f"nested more than {max_depth} levels deep") from None
    except JsonProblem as problem:  # NaN or Infinity, refused
        constant = re.search(r"[:\[,]\s*(-?Infinity|NaN)", text)
        raise JsonProblem(problem.message, _line_of(text, constant.start(1) if constant else None)) from None
    except ValueError as exc:  # an integer beyond the int/str conversion limit
        raise JsonProblem(_long_number_message(exc), _line_of(text, _long_number_offset(text))) from None
    if nested_deeper_than(value, max_depth):
        raise JsonProblem(f"nested more than {max_depth} levels deep")
    _refuse_lone_surrogates(text, value)
    return value


def _refuse_lone_surrogates(text: str, value: Any) -> None:
    """A ``\\ud800`` escape that is not half of a pair decodes to a string that is not
    text: it cannot be written to any UTF-8 file later (a caption, a results file)."""
    if "\\u" not in text or not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        lone = _LONE_SURROGATE.search(text)
        message = "a \\u escape of half a surrogate pair (not Unicode text)"
        raise JsonProblem(message, _line_of(text, lone.start() if lone else None)) from None


def parse_json_lines(lines: list[str], *, max_depth: int = MAX_DEPTH) -> list[Any | JsonProblem]:
    """Each line's value (or the ``JsonProblem`` that refuses it), as ``parse_json`` would.

    The fast path for JSON Lines: one scanner call per line, checked to end where the line
    ends; nesting is walked only on a line with more than ``max_depth`` brackets (a bound
    on its depth); a line that fails goes through ``parse_json`` for its message.
    """
    decoder = json_decoder()
    scan = decoder.scan_once  # type: ignore[attr-defined]
    results: list[Any | JsonProblem] = []
    for raw in lines:
        text = raw.strip(_WHITESPACE)
        try:
            value, end = scan(text, 0)
        except (StopIteration, ValueError, RecursionError, _DuplicateKey):
            end = -1
        if end != len(text):
            try:
                value = parse_json(text, max_depth=max_depth, decoder=decoder)
            except JsonProblem as problem:
                value = problem
        elif text.count("[") + text.count("{") > max_depth and nested_deeper_than(value, max_depth):
            value = JsonProblem(f"nested more than {max_depth} levels deep")
        else:
            try:
                _refuse_lone_surrogates(text, value)
            except JsonProblem as problem:
                value = problem
        results.append(value)
    return results


def _int_digit_limit() -> int:
    return int(getattr(sys, "get_int_max_str_digits", lambda: 4300)())


def _long_number_message(exc: ValueError) -> str:
    if "digits" in str(exc):
        return f"a number has more than {_int_digit_limit()} digits"
    return f"not valid JSON ({exc})"


def _long_number_offset(text: str) -> int | None:
    limit = _int_digit_limit()
    found = re.search(r"\d{" + str(limit + 1) + ",}", text) if limit else None
    return None if found is None else found.start()
