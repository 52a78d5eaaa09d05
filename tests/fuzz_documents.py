"""Mutators for the documents the newer readers take: results files as ``compare`` and
``table`` read them, arena documents, per-sample records, model cards (``submit --card``)
and a board's ``references:``. Each returns ``Case``s (see ``fuzz_targets``)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from fuzz_targets import Case, alias_bomb, deep

# Values of every JSON type, and of none a reader expects.
WRONG_VALUES: tuple[Any, ...] = ([["x"]], {"a": {"b": 1}}, "s", -1, 1e308, None, True, [], {}, 10**30)


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value: object keys, and the first item of each list."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, (*path, key))
    elif isinstance(value, list) and value:
        yield from json_paths(value[0], (*path, 0))


def _changed(document: Any, path: tuple[Any, ...], value: Any = None, remove: bool = False) -> bytes:
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(copy, ensure_ascii=False, indent=1).encode()


def document_cases(
    role: str, valid: bytes, rng: random.Random, read: tuple[str, ...] = (), sampled: int = 20
) -> Iterator[Case]:
    """Each place of a JSON document under the ``read`` top-level keys (what the command under
    test reads) and ``sampled`` other places, given a wrong-typed value drawn by ``rng`` and
    removed: a clear refusal or a result, never a traceback."""
    document = json.loads(valid)
    paths = list(json_paths(document))
    chosen = [p for p in paths if p[0] in read]
    others = [p for p in paths if p[0] not in read]
    chosen += rng.sample(others, min(sampled, len(others)))
    for path in chosen:
        where = "/".join(map(str, path))
        value = rng.choice(WRONG_VALUES)
        yield Case(f"{where}={json.dumps(value)[:20]}", role, _changed(document, path, value), must_fail=False)
        yield Case(f"no {where}", role, _changed(document, path, remove=True), must_fail=False)


def raw_value_cases(role: str, valid: bytes, places: dict[str, tuple[str, ...]]) -> Iterator[Case]:
    """JSON the standard parser cannot take (deep nesting, a 5,000-digit integer, NaN, a
    repeated key) at named places of a document: each is refused."""
    document = json.loads(valid)
    for name, path in places.items():
        marker = "@@RAW@@"
        text = _changed(document, path, marker).decode()
        for label, raw in (("deep", deep(100_000)), ("5000-digit", "9" * 5000), ("NaN", "NaN")):
            yield Case(f"{label} {name}", role, text.replace(json.dumps(marker), raw).encode())
    first = next(iter(document))
    text = valid.decode()
    yield Case("repeated key", role, text.replace(f'"{first}"', f'"{first}": 1, "{first}"', 1).encode())
    yield Case("a list", role, b"[]")
    yield Case("empty", role, b"")


def sample_cases(valid: bytes, rng: random.Random) -> Iterator[Case]:
    """A samples file with one field of one record wrong-typed or missing, and changes to
    the whole file: the board shows no interval for what it cannot read, and says why."""
    lines = valid.decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]

    def joined(rows: list[Any]) -> bytes:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()

    for name in records[0]:
        number = rng.randrange(len(records))
        value = rng.choice(WRONG_VALUES)
        changed = json.loads(json.dumps(records))
        changed[number][name] = value
        yield Case(f"{name}={json.dumps(value)[:20]}", "samples", joined(changed), must_fail=False)
    for name, value in (("relevant", 10**19), ("predicted", 7), ("references", 1.5), ("query_text", [1])):
        changed = json.loads(json.dumps(records))
        changed[0][name] = value
        yield Case(f"{name}={value!r}", "samples", joined(changed), must_fail=False)
    yield Case("a record twice", "samples", joined(records + records[:1]), must_fail=False)
    yield Case("half the records", "samples", joined(records[: len(records) // 2]), must_fail=False)
    yield Case("deep line", "samples", joined(records[1:]) + deep(100_000).encode() + b"\n")
    yield Case("not an object", "samples", joined(records[1:]) + b"[1, 2]\n")
    yield Case("empty", "samples", b"", must_fail=False)


def model_card_cases() -> Iterator[Case]:
    """``submit --card`` files a user might write, and hostile ones. ``benign``: stored (the
    site escapes every text and links only http(s) URLs)."""
    yaml_cases = {
        "alias bomb": alias_bomb() + "display_name: *a8\n",
        "recursive alias": "display_name: &d [*d]\n",
        "deep flow": "display_name: " + deep(100_000) + "\n",
        "deep block": "display_name:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500)),
        "over a megabyte": "licence: " + "x" * (1 << 20) + "\n",
        "a 5,000-character name": "display_name: " + "名" * 5000 + "\n",
        "impossible date": "release_date: 2021-02-30\n",
        "impossible date and time": "release_date: 2021-02-30T10:00:00\n",
        "a time": "release_date: 2021-01-01 10:00:00\n",
        "a 10000 year": "release_date: '10000-01-01'\n",
        "5000-digit parameters": "parameters: " + "9" * 5000 + "\n",
        "infinite parameters": "parameters: .inf\n",
        "parameters not a number": "parameters: .nan\n",
        "binary tag": "display_name: !!binary aGk=\n",
        "python tag": "display_name: !!python/object/apply:os.system ['true']\n",
        "javascript link": "link: 'javascript:alert(1)'\n",
        "data link": "link: 'data:text/html,<script>alert(1)</script>'\n",
        "malformed IPv6 host": "link: 'http://[::1'\n",
        "bad IPv6 host": "link: 'http://[x]/'\n",
        "a link with spaces": "link: 'http://a b'\n",
        "a key twice": "licence: MIT\nlicence: GPL\n",
        "keys of two types": "1: x\nlicence: MIT\n",
        "an unknown key": "size: 3\n",
        "a list": "- 1\n- 2\n",
        "empty": "",
        "two documents": "licence: MIT\n---\nlicence: GPL\n",
        "tab indentation": "display_name:\n\tx: 1\n",
        "nested list": "organisation: [[x]]\n",
    }
    for name, text in yaml_cases.items():
        yield Case(name, "card", text.encode())
    yield Case("not UTF-8", "card", b"display_name: \xff\xfe\n")
    stored = {
        "script in every text": "display_name: '<script>alert(1)</script>'\n"
        "organisation: '</script><svg onload=alert(2)>'\nlicence: '\"><img src=x onerror=alert(3)>'\n",
        "quotes in an http link": "link: 'https://e.example/\"onmouseover=alert(1)'\n",
        "the last day datetime knows": "release_date: 9999-12-31\n",
        "the first day": "release_date: 0001-01-01\n",
        "a huge number of parameters": "parameters: 1.0e+300\n",
        "JSON": json.dumps({"display_name": "m", "weights": "open", "release_date": "2024"}),
        "one BOM": "\ufefflicence: MIT\n",
        "two BOMs": "\ufeff\ufefflicence: MIT\n",  # YAML allows a BOM before a document
    }
    for name, text in stored.items():
        yield Case(name, "card", text.encode(), must_fail=False, benign=True)


REFERENCE = "      - model: m\n        source: s\n        metrics: {mean_recall: 50}\n"


def reference_cases() -> Iterator[Case]:
    """``references:`` entries of a board task (the YAML of one list item, indented for it).
    ``benign``: the site builds, with the reference row escaped."""
    refused = {
        "an unknown registry id": "      - id: nope\n",
        "an id that is a list": "      - id: [x]\n",
        "an empty mapping": "      - {}\n",
        "not a mapping": "      - x\n",
        "NaN metric": REFERENCE.replace("50", ".nan"),
        "infinite metric": REFERENCE.replace("50", "-.inf"),
        "a metric as text": REFERENCE.replace("50", "'50'"),
        "a metric that is a list": REFERENCE.replace("50", "[50]"),
        "a metric of another task": REFERENCE.replace("mean_recall", "cider_d"),
        "metric keys of two types": REFERENCE.replace("{mean_recall: 50}", "{mean_recall: 50, 1: 2}"),
        "keys of two types": REFERENCE + "        1: x\n        y: 2\n",
        "malformed IPv6 url": REFERENCE + "        url: 'http://[::1'\n",
        "javascript url": REFERENCE + "        url: 'javascript:alert(1)'\n",
        "a setting that is a list": REFERENCE + "        setting: [x]\n",
        "a card that is a list": REFERENCE + "        card: [1]\n",
        "a card link with a malformed host": REFERENCE + "        card: {link: 'http://[x]/'}\n",
        "a card with an impossible date": REFERENCE + "        card: {release_date: '2021-02-30'}\n",
        "a card with infinite parameters": REFERENCE + "        card: {parameters: .inf}\n",
        "an alias bomb": "      - &a [" + ", ".join(["x"] * 9) + "]\n" + "      - [" + ", ".join(["*a"] * 200) + "]\n",
    }
    for name, text in refused.items():
        yield Case(name, "board", text.encode())
    built = {
        "script in the texts": "      - model: '<script>alert(1)</script>'\n"
        "        source: '<img src=x onerror=alert(2)>'\n        metrics: {mean_recall: 50}\n"
        "        id: 'a\"><script>alert(3)</script>'\n",
        "quotes in an http url": REFERENCE + "        url: 'https://e.example/\"onmouseover=alert(1)'\n",
        "a card from the year 9999": REFERENCE + "        card: {release_date: '9999-12-31', parameters: 1.0e+300}\n",
        "a 100,000-character model name": REFERENCE.replace("model: m", "model: " + "m" * 100_000),
        "a path as id": REFERENCE + "        id: ../../../etc/passwd\n",
        "two rows of one model": REFERENCE + REFERENCE.replace("50", "51"),
        "extreme metrics": REFERENCE.replace("{mean_recall: 50}", "{mean_recall: 1.0e+308, r1: -1.0e+308}"),
    }
    for name, text in built.items():
        yield Case(name, "board", text.encode(), must_fail=False, benign=True)
