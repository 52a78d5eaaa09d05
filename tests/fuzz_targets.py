"""The fuzz suite's table: one entry per task type, and the seeded mutators it draws from.

A task type is fuzzed through its files: a small gold file (or gold folder) and a valid
submission in the official formats (``FuzzTarget``). Adding a task type to the fuzz suite
is adding one entry to ``TARGETS``: how to write its gold and a valid submission, how the
gold is passed (``--gold FILE`` or ``--data-dir DIR``) and which of its files gold cases
damage, which fields a submission line holds, and the extra CLI options it needs.

Each mutator returns ``Case``s: the bytes to write in place of one file, and what the CLI
must say about them -- must it fail, on which line and field, or is the change benign.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

GOLD_ITEMS = 6
BOM = "\ufeff".encode()


@dataclass(frozen=True)
class Case:
    """One hostile input: ``data`` replaces the file ``role`` (``submission``/``gold``/...)."""

    name: str
    role: str
    data: bytes
    must_fail: bool = True
    benign: bool = False
    line: int | None = None
    field: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class FuzzTarget:
    """A task type as the fuzz suite drives it."""

    type: str
    card: str  # a built-in card of this type, used with the gold given here
    gold_name: str
    lines_are_json: bool  # submission lines are JSON (else TSV)
    write_gold: Callable[[Path], None]
    write_submission: Callable[[Path], None]
    submission_fields: tuple[str, ...]  # keys of a submission line (JSON) or TSV columns
    gold_fields: tuple[str, ...]
    extra_args: tuple[str, ...] = ()
    score_args: tuple[str, ...] = ()
    # a wrong-typed value in these fields is not a fault (for example an unused text)
    lenient_gold_fields: tuple[str, ...] = field(default=())
    gold_option: str = "--gold"  # a gold file (--gold) or a gold folder (--data-dir)
    gold_file: str = ""  # with a gold folder: the file in it that gold cases replace
    gold_lines: str = ""  # how gold cases damage it: json, tsv or text (default: as submissions)

    def write_files(self, directory: Path, submission_name: str = "submission") -> tuple[Path, Path]:
        """A valid gold (file or folder) and submission in ``directory``: (gold, submission)."""
        directory.mkdir(parents=True, exist_ok=True)
        gold, submission = directory / self.gold_name, directory / submission_name
        self.write_gold(gold)
        self.write_submission(submission)
        return gold, submission

    def gold_args(self, gold: Path) -> tuple[str, ...]:
        return (self.gold_option, str(gold))

    def damaged_gold(self, gold: Path) -> Path:
        """The file gold cases replace (the gold file itself, or one file of the gold folder)."""
        return gold / self.gold_file if self.gold_file else gold

    @property
    def gold_format(self) -> str:
        return self.gold_lines or ("json" if self.lines_are_json else "tsv")


# --- writers of small valid files ---------------------------------------------------------


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def retrieval_gold_rows() -> list[dict[str, Any]]:
    rng = random.Random(1)
    return [
        {"query_id": 100 + n, "query_text": f"红色连衣裙{n}", "item_ids": rng.sample(range(1000, 1100), 3)}
        for n in range(GOLD_ITEMS)
    ]


def retrieval_submission_rows() -> list[dict[str, Any]]:
    rng = random.Random(2)
    return [{"query_id": 100 + n, "item_ids": rng.sample(range(1000, 1100), 10)} for n in range(GOLD_ITEMS)]


def caption_ids() -> list[str]:
    return [hashlib.md5(str(n).encode()).hexdigest() for n in range(GOLD_ITEMS)]


def caption_gold_rows() -> list[dict[str, Any]]:
    return [{"image_id": i, "text": [f"红色连衣裙{n}", "简约时尚款"]} for n, i in enumerate(caption_ids())]


def caption_submission_rows() -> list[dict[str, Any]]:
    return [{"image_id": i, "text": f"红色裙子{n}"} for n, i in enumerate(caption_ids())]


def t2i_ids() -> list[str]:
    return [str(5000 + n) for n in range(GOLD_ITEMS)]


def png_bytes(size: int = 16, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def t2i_gold_text() -> bytes:
    return "".join(f"{i}\t蓝色保温杯{n}\n" for n, i in enumerate(t2i_ids())).encode()


def t2i_submission_text() -> bytes:
    rows = [f"{i}\t{base64.b64encode(png_bytes(16, (n * 30, 90, 90))).decode()}\n" for n, i in enumerate(t2i_ids())]
    return "".join(rows).encode()


CLASS_NAMES = ("红色圆形", "蓝色方块", "绿色三角")
CLASSIFICATION_SPLIT = "val"  # imagenet-1k-cn's split
LABEL_FILE = "label_cn.txt"


def classification_ids() -> list[str]:
    return [f"{n % len(CLASS_NAMES):03d}/img_{n}.png" for n in range(GOLD_ITEMS)]


def write_image_folder(directory: Path) -> None:
    """``val/<class>/<image>.png`` and ``label_cn.txt``: Chinese-CLIP's zero-shot layout."""
    for n, image_id in enumerate(classification_ids()):
        path = directory / CLASSIFICATION_SPLIT / image_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(16, (n * 40, 90, 200 - n * 30)))
    (directory / LABEL_FILE).write_bytes("".join(f"{name}\n" for name in CLASS_NAMES).encode())


def classification_submission_rows() -> list[dict[str, Any]]:
    k = len(CLASS_NAMES)
    return [{"image_id": i, "labels": [(n + j) % k for j in range(k)]} for n, i in enumerate(classification_ids())]


TARGETS: tuple[FuzzTarget, ...] = (
    FuzzTarget(
        type="retrieval",
        card="muge-retrieval",
        gold_name="MR_valid_queries.jsonl",
        lines_are_json=True,
        write_gold=lambda p: p.write_bytes(_jsonl(retrieval_gold_rows())),
        write_submission=lambda p: p.write_bytes(_jsonl(retrieval_submission_rows())),
        submission_fields=("query_id", "item_ids"),
        gold_fields=("query_id", "query_text", "item_ids"),
    ),
    FuzzTarget(
        type="caption",
        card="muge-caption",
        gold_name="IC_valid.jsonl",
        lines_are_json=True,
        write_gold=lambda p: p.write_bytes(_jsonl(caption_gold_rows())),
        write_submission=lambda p: p.write_bytes(_jsonl(caption_submission_rows())),
        submission_fields=("image_id", "text"),
        gold_fields=("image_id", "text"),
    ),
    FuzzTarget(
        type="t2i",
        card="muge-t2i",
        gold_name="T2I_val.text.tsv",
        lines_are_json=False,
        write_gold=lambda p: p.write_bytes(t2i_gold_text()),
        write_submission=lambda p: p.write_bytes(t2i_submission_text()),
        submission_fields=("img_id", "image"),
        gold_fields=("img_id", "description"),
        extra_args=("--image-size", "16"),
    ),
    FuzzTarget(
        type="classification",
        card="imagenet-1k-cn",
        gold_name="data",
        lines_are_json=True,
        write_gold=write_image_folder,
        write_submission=lambda p: p.write_bytes(_jsonl(classification_submission_rows())),
        submission_fields=("image_id", "labels"),
        gold_fields=(),
        gold_option="--data-dir",
        gold_file=LABEL_FILE,
        gold_lines="text",
    ),
)


# --- hostile values -----------------------------------------------------------------------


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


WRONG_TYPED = ['[["x"]]', '{"a": 1}', "true", "1.5", "null", "[1, [2, [3]]]"]


def _raw_line(obj: dict[str, Any], field_name: str, raw_value: str) -> str:
    """``obj`` as one JSON line with ``field_name``'s value replaced by the raw text."""
    parts = [
        f"{json.dumps(k, ensure_ascii=False)}: {raw_value if k == field_name else json.dumps(v, ensure_ascii=False)}"
        for k, v in obj.items()
    ]
    return "{" + ", ".join(parts) + "}"


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _replace_line(data: bytes, number: int, new: bytes) -> bytes:
    lines = _lines(data)
    lines[number - 1] = new
    return _join(lines)


def json_line_cases(role: str, data: bytes, fields: tuple[str, ...], rng: random.Random) -> Iterator[Case]:
    """Hostile JSON on one line of a JSON Lines file, each class on a drawn line."""
    lines = _lines(data)
    rows = [json.loads(line) for line in lines]

    def pick() -> int:
        return rng.randrange(1, len(lines) + 1)

    for levels in (65, 1000, 100_000):
        n, name = pick(), rng.choice(fields)
        yield Case(
            f"deep {levels}", role, _replace_line(data, n, _raw_line(rows[n - 1], name, deep(levels)).encode()), line=n
        )
    for digits in (4301, 5000, 100_000):
        n, name = pick(), rng.choice(fields)
        yield Case(
            f"{digits}-digit int",
            role,
            _replace_line(data, n, _raw_line(rows[n - 1], name, "9" * digits).encode()),
            line=n,
        )
    for name in fields:
        n = pick()
        text = _raw_line(rows[n - 1], name, json.dumps(rows[n - 1][name], ensure_ascii=False))
        doubled = text[:-1] + f", {json.dumps(name)}: {json.dumps(rows[n - 1][name], ensure_ascii=False)}" + "}"
        yield Case(f"repeated key {name}", role, _replace_line(data, n, doubled.encode()), line=n)
        for raw in WRONG_TYPED:
            n = pick()
            yield Case(
                f"{name}={raw[:12]}",
                role,
                _replace_line(data, n, _raw_line(rows[n - 1], name, raw).encode()),
                line=n,
                field=name,
            )
    for constant in ("NaN", "Infinity", "-Infinity"):
        n, name = pick(), rng.choice(fields)
        yield Case(
            f"{constant} {name}", role, _replace_line(data, n, _raw_line(rows[n - 1], name, constant).encode()), line=n
        )
    n, name = pick(), rng.choice(fields)
    huge = _raw_line(rows[n - 1], name, json.dumps("界" * 200_000)).encode()
    yield Case("huge string", role, _replace_line(data, n, huge), must_fail=False)
    n = pick()
    yield Case("truncated line", role, _replace_line(data, n, lines[n - 1][: len(lines[n - 1]) // 2]), line=n)
    n = pick()
    yield Case("not an object", role, _replace_line(data, n, b"[1, 2, 3]"), line=n)
    n = pick()
    yield Case("NUL byte", role, _replace_line(data, n, lines[n - 1][:5] + b"\x00" + lines[n - 1][5:]), line=n)
    n = pick()
    yield Case("second BOM", role, BOM + BOM + data, line=1)
    middle = rng.randrange(2, len(lines) + 1)  # a BOM that opens the file is allowed
    yield Case("BOM mid-file", role, _replace_line(data, middle, BOM + lines[middle - 1]), line=middle)
    yield Case("blank line", role, _join([*lines[:n], b"", *lines[n:]]), line=n + 1)
    yield Case("invalid UTF-8", role, _replace_line(data, n, lines[n - 1] + b"\xff\xfe"), line=n)
    yield Case("duplicated line", role, data + lines[n - 1] + b"\n", line=len(lines) + 1)
    yield Case("empty file", role, b"")
    yield Case("CRLF", role, data.replace(b"\n", b"\r\n"), must_fail=False, benign=True)
    yield Case("one BOM", role, BOM + data, must_fail=False, benign=True)
    yield Case("no final newline", role, data.rstrip(b"\n"), must_fail=False, benign=True)
    yield Case("extra field", role, _join([line[:-1] + b', "extra": [1, {"a": null}]}' for line in lines]),
               must_fail=False, benign=True)  # fmt: skip


def tsv_line_cases(role: str, data: bytes, rng: random.Random) -> Iterator[Case]:
    """Hostile lines of an ``id<TAB>value`` file."""
    lines = _lines(data)

    def pick() -> int:
        return rng.randrange(1, len(lines) + 1)

    n = pick()
    yield Case("no tab", role, _replace_line(data, n, lines[n - 1].replace(b"\t", b" ")), line=n)
    n = pick()
    yield Case("empty id", role, _replace_line(data, n, b"\t" + lines[n - 1].partition(b"\t")[2]), line=n)
    n = pick()
    yield Case("NUL byte", role, _replace_line(data, n, lines[n - 1] + b"\x00"), must_fail=False)
    n = pick()
    yield Case("second BOM", role, BOM + BOM + data, line=1)
    yield Case("blank line", role, _join([*lines[:n], b"", *lines[n:]]), line=n + 1)
    yield Case("invalid UTF-8", role, _replace_line(data, n, lines[n - 1] + b"\xff\xfe"), line=n)
    yield Case("repeated id", role, data + lines[n - 1] + b"\n", line=len(lines) + 1)
    yield Case("empty file", role, b"")
    yield Case("CRLF", role, data.replace(b"\n", b"\r\n"), must_fail=False, benign=True)
    yield Case("one BOM", role, BOM + data, must_fail=False, benign=True)


def text_line_cases(role: str, data: bytes, rng: random.Random) -> Iterator[Case]:
    """Hostile lines of a file of names, one per line (a label file): a name is read as
    Chinese-CLIP reads it, stripped, and the number of lines must stay as it is."""
    lines = _lines(data)

    def pick() -> int:
        return rng.randrange(1, len(lines) + 1)

    yield Case("second BOM", role, BOM + BOM + data, line=1)
    middle = rng.randrange(2, len(lines) + 1)
    yield Case("BOM mid-file", role, _replace_line(data, middle, BOM + lines[middle - 1]), line=middle)
    n = pick()
    yield Case("blank line", role, _join([*lines[:n], b"", *lines[n:]]), line=n + 1)
    yield Case("spaces only", role, _replace_line(data, n, b" \t "), line=n)
    yield Case("invalid UTF-8", role, _replace_line(data, n, lines[n - 1] + b"\xff\xfe"), line=n)
    for name, byte in (("NUL byte", b"\x00"), ("escape byte", b"\x1b"), ("DEL byte", b"\x7f")):
        n = pick()
        yield Case(name, role, _replace_line(data, n, lines[n - 1][:3] + byte + lines[n - 1][3:]), line=n)
    for length in (1001, 5_000_000):
        n = pick()
        yield Case(f"{length}-character name", role, _replace_line(data, n, "名".encode() * length), line=n)
    yield Case("one line more", role, data + "鱼\n".encode())
    yield Case("one line fewer", role, _join(lines[:-1]))
    yield Case("empty file", role, b"")
    yield Case("only newlines", role, b"\n\n", line=1)
    yield Case("CRLF", role, data.replace(b"\n", b"\r\n"), must_fail=False, benign=True)
    yield Case("CR only", role, data.replace(b"\n", b"\r"), must_fail=False, benign=True)
    yield Case("one BOM", role, BOM + data, must_fail=False, benign=True)
    yield Case("no final newline", role, data.rstrip(b"\n"), must_fail=False, benign=True)
    yield Case("spaces around", role, _join([b"  " + line + b" \t" for line in lines]), must_fail=False, benign=True)
    yield Case("a name twice", role, _replace_line(data, 2, lines[0]), must_fail=False, benign=True)  # a note


def retrieval_long_line_cases(data: bytes) -> Iterator[Case]:
    """30,000 and 40,000 ids on one line (duplicates included): linear checks, under a second."""
    rows = [json.loads(line) for line in _lines(data)]
    for count, ids in ((30_000, list(range(30_000))), (40_000, [7] * 40_000), (30_000, ["x"] * 30_000)):
        line = json.dumps({"query_id": rows[0]["query_id"], "item_ids": ids}).encode()
        yield Case(f"{count} ids", "submission", _replace_line(data, 1, line), line=1, field="item_ids")


# --- images -------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_parts(width: int, height: int, idat: list[bytes]) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + b"".join(_chunk(b"IDAT", d) for d in idat)
        + _chunk(b"IEND", b"")
    )


def bad_images(size: int, rng: random.Random) -> dict[str, bytes]:
    """Images a PNG submission must refuse, each with a reason the header alone may not show."""
    raw_rows = b"".join(b"\x00" + bytes(3 * size) for _ in range(size))
    good = png_bytes(size)
    flipped = bytearray(good)
    position = rng.randrange(8, len(good))
    flipped[position] ^= 1 << rng.randrange(8)
    jpeg = io.BytesIO()
    Image.new("RGB", (size, size)).save(jpeg, format="JPEG")
    return {
        "PNG without image data": png_from_parts(size, size, []),
        "corrupt pixel stream, correct CRC": png_from_parts(
            size, size, [b"\x78\x9c" + bytes(rng.randrange(256) for _ in range(40))]
        ),
        "short pixel stream": png_from_parts(size, size, [zlib.compress(raw_rows[: len(raw_rows) // 3])]),
        "bad filter byte": png_from_parts(size, size, [zlib.compress(b"\x09" + raw_rows[1:])]),
        "truncated PNG": good[: len(good) // 2],
        "one bit flipped": bytes(flipped),
        "JPEG not PNG": jpeg.getvalue(),
        "wrong size": png_bytes(size + 1),
        "empty": b"",
        "65000x65000 header": png_from_parts(65000, 65000, [zlib.compress(b"\x00" * 64)]),
    }


def image_cases(data: bytes, size: int, rng: random.Random) -> Iterator[Case]:
    lines = _lines(data)
    for name, image in bad_images(size, rng).items():
        n = rng.randrange(1, len(lines) + 1)
        image_id = lines[n - 1].partition(b"\t")[0]
        line = image_id + b"\t" + base64.b64encode(image)
        yield Case(name, "submission", _replace_line(data, n, line), line=n, field="image")
        if name == "65000x65000 header":  # refused by the pixel limit even when any size is accepted
            yield Case(name + ", any size", "submission", _replace_line(data, n, line), line=n, field="image",
                       extra_args=("--image-size", "any"))  # fmt: skip
    n = rng.randrange(1, len(lines) + 1)
    yield Case(
        "not base64",
        "submission",
        _replace_line(data, n, lines[n - 1].partition(b"\t")[0] + b"\t%%%"),
        line=n,
        field="image",
    )


# --- random damage ------------------------------------------------------------------------


def byte_damage(role: str, data: bytes, rng: random.Random, count: int) -> Iterator[Case]:
    """Random flips, cuts, insertions and repeats anywhere: any outcome but a traceback or a hang."""
    for number in range(count):
        damaged = bytearray(data)
        kind = number % 4
        if kind == 0 and damaged:
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        elif kind == 1 and damaged:
            del damaged[rng.randrange(len(damaged)) :]
        elif kind == 2:
            at = rng.randrange(len(damaged) + 1)
            damaged[at:at] = rng.choice(
                [b"\n", b"\t", b"[", b"{", b'"', b"\\", b"\xef\xbb\xbf", b"\x00", b"\xff"]
            ) * rng.randint(1, 50)
        elif damaged:
            start = rng.randrange(len(damaged))
            damaged[start:start] = damaged[start : start + rng.randint(1, 200)]
        yield Case(f"damage {number}", role, bytes(damaged), must_fail=False)


# --- task cards ---------------------------------------------------------------------------


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def set_key(card: str, key: str, value: str) -> bytes:
    """``card`` with the top-level ``key`` (and its indented block) set to ``value``."""
    pattern = re.compile(rf"^{re.escape(key)}:.*(?:\n[ \t].*)*", re.MULTILINE)
    line = f"{key}: {value}"
    changed = pattern.sub(lambda _: line, card, count=1) if pattern.search(card) else card + line + "\n"
    return changed.encode()


def card_cases(valid: str, rng: random.Random, damage: int) -> Iterator[Case]:
    """Task cards a user might write, and hostile ones: every one is a clear message or works."""
    bomb = alias_bomb()
    yield Case("alias bomb", "card", bomb.encode() + set_key(valid, "description", "*a8"))
    yield Case("alias bomb only", "card", bomb.encode())
    yield Case("recursive alias", "card", set_key(valid, "options", "&o {x: *o}"))
    yield Case("deep flow", "card", set_key(valid, "options", "{x: " + "[" * 100_000 + "]" * 100_000 + "}"))
    deep_block = "\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 500))
    yield Case("deep block", "card", set_key(valid, "options", deep_block))
    for key in ("name", "type", "main_metric", "default_split", "description", "version"):
        yield Case(
            f"{key} nested list", "card", set_key(valid, key, "[[x]]"), must_fail=key not in ("description", "version")
        )
    for key, value in (("splits", "[[valid]]"), ("directions", "[[text_to_image]]"), ("metrics", "{a: b}"),
                       ("directions", "[{a: 1}]"), ("splits", "valid"), ("options", "[1, 2]"),
                       ("data", "[[local]]"), ("data", "{format: [[x]], source: [[y]]}")):  # fmt: skip
        yield Case(f"{key}={value}", "card", set_key(valid, key, value))
    yield Case("duplicate key", "card", (valid + "name: other\n").encode(), line=len(valid.splitlines()) + 1)
    data = "{format: x, source: local, location: %s}"
    yield Case("very long path", "card", set_key(valid, "data", data % ("d/" * 3000)), must_fail=False)
    yield Case("long path component", "card", set_key(valid, "data", data % ("d" * 5000)), must_fail=False)
    yield Case("impossible date", "card", set_key(valid, "version", "2021-02-30"))
    yield Case("5000-digit int", "card", set_key(valid, "version", "9" * 5000))
    yield Case("binary tag", "card", set_key(valid, "version", "!!binary 'é'"))
    yield Case("python tag", "card", set_key(valid, "version", "!!python/object/apply:os.system ['true']"))
    yield Case("tab indentation", "card", set_key(valid, "options", "\n\tx: 1"))
    yield Case("two documents", "card", (valid + "---\nname: b\n").encode())
    yield Case("not UTF-8", "card", valid.encode() + b"description: \xff\xfe\n")
    yield Case("over a megabyte", "card", (valid + "description: " + "x" * (1 << 20) + "\n").encode())
    yield Case("not a mapping", "card", b"- 1\n- 2\n")
    yield Case("empty", "card", b"")
    yield from byte_damage("card", valid.encode(), rng, damage)


# --- results files ------------------------------------------------------------------------


def results_cases(valid: bytes, rng: random.Random, damage: int) -> Iterator[Case]:
    """Results files for regress, submit and leaderboard build: each fault is one message."""
    document = json.loads(valid)
    text = valid.decode()

    def with_value(path: tuple[str, ...], raw: str) -> bytes:
        marker = "\u0000MARK\u0000"
        changed = json.loads(valid)
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = marker
        return json.dumps(changed, indent=2, ensure_ascii=False).replace(json.dumps(marker), raw).encode()

    metric = next(iter(document["metrics"]))
    for path in (("protocol", "x"), ("metrics", metric), ("model", "name"), ("task", "name")):
        yield Case(f"deep {'/'.join(path)}", "results", with_value(path, deep(100_000)))
        yield Case(f"deep 80 {'/'.join(path)}", "results", with_value(path, deep(80)))
        yield Case(f"long int {'/'.join(path)}", "results", with_value(path, "9" * 5000))
    yield Case("NaN metric", "results", with_value(("metrics", metric), "NaN"))
    yield Case("Infinity metric", "results", with_value(("metrics", metric), "-Infinity"))
    yield Case("repeated key", "results", text.replace('"metrics": {', '"metrics": {}, "metrics": {', 1).encode())
    yield Case("metrics a list", "results", with_value(("metrics",), "[1, 2]"))
    yield Case("huge model name", "results", with_value(("model", "name"), json.dumps("m" * 200_000)), must_fail=False)
    yield Case("second BOM", "results", BOM + BOM + valid)
    yield Case("truncated", "results", valid[: len(valid) // 2])
    yield Case("not UTF-8", "results", valid.replace(b'"model"', b'"mod\xffel"', 1))
    yield Case("a list", "results", b"[]")
    yield Case("empty", "results", b"")
    yield from byte_damage("results", valid, rng, damage)
