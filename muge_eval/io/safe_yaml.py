"""Reading the YAML files users write (task cards, ``board.yaml``) with bounded cost.

``yaml.safe_load`` runs no code, but a few hundred bytes can still cost without bound: an
alias bomb (each level an anchor repeated ten times) is a small graph that anything
walking the loaded value (``str()``, ``json.dumps``, a schema check) expands
exponentially; a deeply nested flow (``[[[[...``) exhausts the stack while composing; a
recursive alias makes a value that contains itself. Here the file's size, its nesting
depth, its number of aliases and the size of its value with every alias expanded are
all capped before any Python value is built; a key repeated in one mapping (which PyYAML
would resolve silently, keeping the later value) is refused with its line; and every
failure is one ``InputError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from muge_eval.errors import InputError, Problem, shorten

MAX_YAML_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 100
# Nodes in the value with every alias expanded: a card has a few dozen.
MAX_EXPANDED_NODES = 100_000

# What constructing a value can raise besides YAMLError: an impossible date
# (``2021-02-30``), an integer past the int/str conversion limit.
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError)


class _TooBig(Exception):
    pass


def _loader_class() -> type[yaml.SafeLoader]:
    """libyaml's parser when PyYAML was built with it (about ten times faster), else PyYAML's.
    Both compose recursively, so nesting is checked on the event stream first."""
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def _check_events(text: str) -> None:
    """Depth and alias count from the event stream (the parser itself does not recurse)."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_loader_class()):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _TooBig(f"more than {MAX_ALIASES} aliases (*name)")


class _RepeatedKey(Exception):
    def __init__(self, key: str, line: int):
        super().__init__(key)
        self.key = key
        self.line = line


def _refuse_repeated_keys(node: yaml.MappingNode) -> None:
    """A key given twice in one mapping: PyYAML would keep the later value without a word."""
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise _RepeatedKey(key_node.value, key_node.start_mark.line + 1)
        seen.add(key)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Nodes under ``node`` with aliases expanded; recursion is bounded by ``MAX_DEPTH``."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise _TooBig("an alias refers to a value that contains it")
    open_nodes.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, open_nodes)
            if total > MAX_EXPANDED_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        _refuse_repeated_keys(node)
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, sizes, open_nodes) + _expanded_size(value_node, sizes, open_nodes)
            if total > MAX_EXPANDED_NODES:
                break
    open_nodes.discard(key)
    if total > MAX_EXPANDED_NODES:
        raise _TooBig(f"more than {MAX_EXPANDED_NODES:,} values once its aliases are expanded")
    sizes[key] = total
    return total


def parse_yaml(text: str, file: str, what: str = "YAML file") -> Any:
    """The value of one YAML document, or an ``InputError`` naming ``file``."""
    title = f"invalid {what}"
    try:
        _check_events(text)
        loader = _loader_class()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _expanded_size(node, {}, set())
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except _TooBig as exc:
        raise InputError([Problem(file, f"refused: {exc}")], title) from None
    except _RepeatedKey as exc:
        message = f"key {shorten(exc.key)!r} appears twice in one mapping"
        raise InputError([Problem(file, message, exc.line)], title) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        # libyaml >= 0.2.6 (PyYAML 6.0.4 wheels) stops deep flows itself, before our event
        # check reaches depth MAX_DEPTH in the same stream; one message for both parsers.
        if "maximum nesting depth" in message:
            refusal = f"refused: nested more than {MAX_DEPTH} levels deep"
            raise InputError([Problem(file, refusal, line)], title) from None
        raise InputError([Problem(file, f"not valid YAML: {shorten(message, 200)}", line)], title) from None
    except _CONSTRUCT_ERRORS as exc:
        reason = "a number has too many digits" if "digits" in str(exc) else shorten(str(exc), 200)
        raise InputError([Problem(file, f"not valid YAML: {reason}")], title) from None


def read_yaml_file(path: Path, what: str = "YAML file") -> tuple[Any, bytes]:
    """The value of a YAML file and its bytes (at most ``MAX_YAML_BYTES``); faults are InputErrors."""
    title = f"invalid {what}"
    if path.exists() and not path.is_file():  # a FIFO would block the read for ever
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise InputError([Problem(str(path), f"cannot read {what}: {kind}")], title)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError([Problem(str(path), f"cannot read {what}: {reason}")], title) from exc
    if len(raw) > MAX_YAML_BYTES:
        raise InputError([Problem(str(path), f"refused: larger than {MAX_YAML_BYTES:,} bytes")], title)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(path), f"not UTF-8 text (byte {exc.start})")], title) from None
    return parse_yaml(text, str(path), what), raw
