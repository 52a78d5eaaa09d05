"""Shared pieces of the parity tests: a small split with varied images and texts that
need each family's text preprocessing, the peers' own pipelines, and the comparison."""

from __future__ import annotations

import base64
import io
import itertools
import json
import runpy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

# Characters the tiny test vocabularies know (models_fixtures.CHARS) and upper-case ASCII
# words: with Chinese curly quotes, what changes tokens unless a text is preprocessed
# the way Chinese-CLIP's evaluation does it.
CHARS = "新款黄色双肩包白的抱枕台灯红蓝绿黑灰粉紫男女童鞋帽衣裤裙子手机壳杯碗盘高级感托特斜挎小大短长袖"
WORDS = ["NEW", "ABC", "XL", "TOP", "MINI"]


def varied_text(rng: np.random.Generator, number: int) -> str:
    body = "".join(rng.choice(list(CHARS), size=int(rng.integers(3, 10))))
    if number % 3 == 0:
        cut = int(rng.integers(1, len(body)))
        body = f"{body[:cut]}“{body[cut:]}”"
    if number % 2 == 0:
        body += " " + WORDS[number % len(WORDS)]
    return body


def varied_image(rng: np.random.Generator, width: int, height: int, fmt: str, mode: str = "RGB") -> bytes:
    """A smooth random picture in ``mode`` saved as ``fmt`` (JPEG or PNG)."""
    small = rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


# (width, height, format, mode): small, large (at least twice any model resolution, where
# a JPEG draft would decode at reduced scale), very non-square, grayscale and PNG.
IMAGE_SHAPES = [
    (64, 48, "JPEG", "RGB"),
    (520, 470, "JPEG", "RGB"),
    (900, 300, "JPEG", "RGB"),
    (120, 400, "JPEG", "L"),
    (96, 96, "PNG", "RGB"),
    (640, 480, "JPEG", "RGB"),
]


def make_chinese_clip_split(directory: Path, n_images: int, texts_per_image: int = 2, seed: int = 0) -> Path:
    """``test_imgs.tsv`` + ``test_texts.jsonl`` in the Chinese-CLIP layout."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    image_ids = [10_000 + 7 * i for i in range(n_images)]
    lines = []
    for row, image_id in enumerate(image_ids):
        width, height, fmt, mode = IMAGE_SHAPES[row % len(IMAGE_SHAPES)]
        data = varied_image(rng, width + row, height + 2 * row, fmt, mode)
        lines.append(f"{image_id}\t{base64.b64encode(data).decode()}\n")
    (directory / "test_imgs.tsv").write_text("".join(lines), encoding="utf-8")
    texts = []
    for number in range(n_images * texts_per_image):
        image_id = image_ids[number % n_images]
        text = varied_text(rng, number)
        texts.append({"text_id": 500 + number, "text": text, "image_ids": [image_id]})
    (directory / "test_texts.jsonl").write_text(
        "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    return directory


def run_script(monkeypatch: pytest.MonkeyPatch, module: str, *args: str) -> None:
    """Run one of a peer's command-line scripts in this process, as ``python -m module``."""
    with monkeypatch.context() as patch:
        patch.setattr(sys, "argv", [module, *args])
        runpy.run_module(module, run_name="__main__", alter_sys=False)


def cuda_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chinese-CLIP's evaluation scripts put the model and tensors on CUDA; this machine
    has none. Only the device calls are patched to stay on the CPU: no other change."""
    import torch

    monkeypatch.setattr(torch.cuda, "set_device", lambda *args, **kwargs: None)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rankings(path: Path, id_key: str, list_key: str) -> dict[int, list[int]]:
    return {row[id_key]: row[list_key] for row in read_jsonl(path)}


def well_separated(scores: Mapping[int, Sequence[float]], k: int = 10, margin: float = 1e-6) -> list[int]:
    """Queries whose first k+1 reference scores are all at least ``margin`` apart (ten
    times the float32 noise of unit-norm features): their top-k list cannot change under
    float noise."""
    chosen = []
    for query, row in scores.items():
        top = sorted(row, reverse=True)[: k + 1]
        if all(a - b > margin for a, b in itertools.pairwise(top)):
            chosen.append(query)
    return chosen


def score_rows(queries: Mapping[int, np.ndarray], targets: Mapping[int, np.ndarray]) -> dict[int, list[float]]:
    ids = list(targets)
    matrix = np.stack([targets[i] for i in ids]).astype(np.float64)
    return {q: list(matrix @ vector.astype(np.float64)) for q, vector in queries.items()}


def assert_same_rankings(
    ours: Mapping[int, Sequence[int]], reference: Mapping[int, Sequence[int]], separated: Sequence[int]
) -> None:
    assert set(ours) == set(reference)
    assert len(separated) >= len(reference) // 2, "too few well-separated queries for the test to mean anything"
    for query in separated:
        assert list(ours[query]) == list(reference[query]), f"query {query}: top-10 differs"


def assert_same_recalls(ours: Mapping[str, float], reference: Mapping[str, float]) -> None:
    for name, value in reference.items():
        assert abs(ours[name] - value) <= 1e-9, f"{name}: {ours[name]} vs reference {value}"


def embeddings_of(adapter: Any, data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Unit-norm image and text embeddings of the split from an adapter, as a run makes them."""
    lines = [line.split("\t") for line in (data / "test_imgs.tsv").read_text(encoding="utf-8").splitlines()]
    pixels = np.stack([adapter.image_transform()(base64.b64decode(b64)) for _, b64 in lines])
    images = dict(zip((int(image_id) for image_id, _ in lines), adapter.encode_pixels(pixels), strict=True))
    rows = read_jsonl(data / "test_texts.jsonl")
    vectors = adapter.encode_texts([r["text"] for r in rows])
    texts = {r["text_id"]: v for r, v in zip(rows, vectors, strict=True)}
    return (
        {k: v / np.linalg.norm(v) for k, v in images.items()},
        {k: v / np.linalg.norm(v) for k, v in texts.items()},
    )


def assert_close_embeddings(ours: Mapping[int, np.ndarray], reference: Mapping[int, np.ndarray]) -> None:
    """Every embedding within float noise of the reference's (a JPEG draft or a skipped
    text rule moves them by far more)."""
    assert set(ours) == set(reference)
    worst = max(float(np.abs(ours[k] - reference[k]).max()) for k in reference)
    assert worst < 2e-5, f"embeddings differ from the reference by up to {worst}"
