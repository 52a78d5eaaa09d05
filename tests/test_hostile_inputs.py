"""Hostile input, faults and limits, one class at a time: what each parser and decoder
refuses and how fast, damaged caches, full disks, file modes, and the messages a user sees."""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_targets import alias_bomb, png_from_parts, retrieval_gold_rows
from PIL import Image

from muge_eval.cli.main import main
from muge_eval.errors import InputError, UsageError
from muge_eval.io.pixels import decode_image, image_problem, jpeg_size, jpeg_within_limit
from muge_eval.io.safe_json import JsonProblem, parse_json
from muge_eval.io.safe_yaml import parse_yaml
from muge_eval.retrieval.gold import read_gold_queries
from muge_eval.retrieval.schema import TEXT_TO_IMAGE
from muge_eval.retrieval.submission import read_submission


def jpeg(width: int, height: int, progressive: bool = False, exif: bool = False) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"format": "JPEG", "progressive": progressive}
    if exif:
        options["exif"] = b"Exif\x00\x00" + bytes(5000)
    Image.new("RGB", (width, height), (10, 200, 30)).save(buffer, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def claim_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header rewritten to claim ``width`` x ``height``."""
    found = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            found[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(found)
    raise AssertionError("no frame header")


# --- JSON -------------------------------------------------------------------------------


def test_json_problems_name_the_line() -> None:
    document = '{\n  "a": 1,\n  "b": {\n    "c": 2,\n    "c": 3\n  }\n}'
    with pytest.raises(JsonProblem, match="key 'c' appears twice") as info:
        parse_json(document)
    assert info.value.line == 5
    with pytest.raises(JsonProblem, match="more than 4300 digits") as info:
        parse_json('{\n"a":\n' + "1" * 5000 + "}")
    assert info.value.line == 3
    for depth in (65, 10_000, 1_000_000):
        with pytest.raises(JsonProblem, match="nested more than 64 levels"):
            parse_json("[" * depth + "]" * depth)
    assert parse_json("[" * 64 + "]" * 64) is not None
    with pytest.raises(JsonProblem, match="NaN is not allowed") as info:
        parse_json('{\n"m": NaN}', allow_constants=False)
    assert info.value.line == 2
    assert parse_json('{"a": "NaN", "b": [1, {"a": 2}]}', allow_constants=False) == {"a": "NaN", "b": [1, {"a": 2}]}


def test_a_30000_id_line_validates_in_well_under_a_second(tmp_path: Path) -> None:
    gold_path = tmp_path / "gold.jsonl"
    gold_path.write_text("".join(json.dumps(r) + "\n" for r in retrieval_gold_rows()), encoding="utf-8")
    gold = read_gold_queries(gold_path)
    for ids in (list(range(30_000)), [5] * 40_000, list(range(20_000)) * 2):
        path = tmp_path / "pred.jsonl"
        lines = [{"query_id": q, "item_ids": ids if n == 0 else list(range(10))} for n, q in enumerate(gold.ids)]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        started = time.perf_counter()
        with pytest.raises(InputError) as info:
            read_submission(path, gold, TEXT_TO_IMAGE)
        assert time.perf_counter() - started < 1.0
        assert info.value.problems[0].line == 1 and info.value.problems[0].field == "item_ids"


# --- YAML -------------------------------------------------------------------------------


def test_the_alias_bomb_and_deep_flows_are_refused_in_well_under_a_second(tmp_path: Path) -> None:
    card = tmp_path / "bomb.yaml"
    card.write_text(alias_bomb() + "name: *a8\n", encoding="utf-8")
    assert len(card.read_bytes()) < 700
    for text, reason in (
        (alias_bomb() + "name: *a8\n", "once its aliases are expanded"),
        ("a: &a [*a]\n", "contains it"),
        ("a: " + "[" * 200_000 + "]" * 200_000 + "\n", "levels deep"),
        ("a: " + "{b: " * 50_000 + "}" * 50_000 + "\n", "levels deep"),
        ("".join(f"x{i}: &x{i} 1\n" for i in range(200)) + "y: [" + ", ".join(f"*x{i}" for i in range(200)) + "]\n",
         "aliases"),
    ):  # fmt: skip
        card.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["tasks", "--tasks-dir", str(tmp_path)])
        assert time.perf_counter() - started < 1.0
        assert result.exit_code == 1 and reason in result.output and str(card) in result.output, result.output


def test_yaml_repeated_keys_and_impossible_values_are_problems_with_a_line() -> None:
    with pytest.raises(InputError, match=r"f\.yaml:3: key 'name' appears twice"):
        parse_yaml("name: a\ntype: b\nname: c\n", "f.yaml")
    for text in ("v: 2021-02-30\n", "v: " + "9" * 5000 + "\n", "v: !!binary 'é'\n", "v: !!python/name:os.system\n"):
        with pytest.raises(InputError, match="not valid YAML"):
            parse_yaml(text, "f.yaml")
    assert parse_yaml("a: &x {k: 1}\nb: {<<: *x, j: 2}\n", "f.yaml") == {"a": {"k": 1}, "b": {"k": 1, "j": 2}}


# --- images -----------------------------------------------------------------------------


@pytest.mark.parametrize(("progressive", "exif"), [(False, False), (True, False), (False, True)])
def test_jpeg_size_reads_the_frame_header(progressive: bool, exif: bool) -> None:
    data = jpeg(37, 23, progressive, exif)
    assert jpeg_size(data) == (37, 23) == Image.open(io.BytesIO(data)).size
    assert jpeg_size(np.frombuffer(data, dtype=np.uint8)) == (37, 23)
    assert jpeg_size(data[:20]) is None and jpeg_size(b"not a jpeg") is None and jpeg_size(b"") is None


def test_a_jpeg_bomb_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = claim_size(jpeg(8, 8), 65000, 65000)
    assert len(bomb) < 1000 and jpeg_size(bomb) == (65000, 65000)
    assert not jpeg_within_limit(bomb) and jpeg_within_limit(jpeg(64, 64))
    started = time.perf_counter()
    with pytest.raises(Image.DecompressionBombError):
        decode_image(bomb)
    assert "not a readable image" in (image_problem(bomb) or "")
    assert time.perf_counter() - started < 1.0


def test_decode_torchvision_never_hands_a_bomb_to_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torchvision")
    import torchvision.io

    from muge_eval.data.device_decode import decode_on_device
    from muge_eval.data.image_transform import ImageTransform
    from muge_eval.data.loader import PixelBatch

    good = jpeg(40, 30)
    bomb = claim_size(jpeg(8, 8), 65000, 65000)
    handed: list[int] = []
    real = torchvision.io.decode_jpeg

    def watched(raw: list, **kwargs: object) -> object:  # type: ignore[type-arg]
        handed.extend(int(data.numel()) for data in raw)
        return real(raw, **kwargs)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", watched)
    raw = tuple(np.frombuffer(d, dtype=np.uint8).copy() for d in (good, bomb, good))
    batch = PixelBatch(0, np.zeros((0, 32, 32, 3), np.uint8), np.zeros(3, bool), 0.0,
                       np.zeros(0, np.int64), np.arange(3, dtype=np.int64), raw)  # fmt: skip
    started = time.perf_counter()
    pixels, ok = decode_on_device(batch, ImageTransform(32, decode="torchvision"), "cpu")
    assert time.perf_counter() - started < 1.0
    assert ok.tolist() == [True, False, True]
    assert len(bomb) not in handed and handed.count(len(good)) >= 2
    assert not pixels[1].any()


def test_png_validation_decodes_every_pixel() -> None:
    rows = b"".join(b"\x00" + bytes(3 * 4) for _ in range(4))
    import zlib

    no_data = png_from_parts(4, 4, [])
    corrupt = png_from_parts(4, 4, [b"\x78\x9c" + b"\xff" * 30])  # correct CRC, broken deflate stream
    short = png_from_parts(4, 4, [zlib.compress(rows[:10])])
    good = png_from_parts(4, 4, [zlib.compress(rows)])
    assert image_problem(good, "PNG", (4, 4)) is None
    for bad in (no_data, corrupt, short):
        problem = image_problem(bad, "PNG", (4, 4))
        assert problem is not None and problem.startswith("not a readable image")
    started = time.perf_counter()
    bomb = image_problem(png_from_parts(65000, 65000, [zlib.compress(rows)]), "PNG", None)
    assert bomb is not None and "4225000000 pixels) exceeds limit" in bomb
    assert time.perf_counter() - started < 1.0


# --- options ----------------------------------------------------------------------------


def test_a_tokenizer_must_be_a_tokenizer_class(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from muge_eval.caption.tokenizers import WhitespaceTokenizer, build_tokenizer
    from muge_eval.plugins import build_registries

    registry = build_registries().tokenizers
    called: list[object] = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    for name in ("os:system", "builtins:print", "subprocess:Popen", "muge_eval.caption.tokenizers:normalize"):
        with pytest.raises(UsageError, match="is not a tokenizer class"):
            build_tokenizer(name, registry)
    assert called == []
    assert isinstance(
        build_tokenizer("muge_eval.caption.tokenizers:WhitespaceTokenizer", registry), WhitespaceTokenizer
    )
    with pytest.raises(UsageError, match="unknown tokenizer 'chars'; did you mean 'char'"):
        build_tokenizer("chars", registry)
    result = CliRunner().invoke(
        main, ["validate", "--task", "muge-caption-sample", "x.jsonl", "--tokenizer", "os:system"]
    )
    assert result.exit_code == 2 and "is not a tokenizer class" in result.output and called == []
