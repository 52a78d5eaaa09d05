"""Builders for tiny retrieval data in the official formats, shared by the retrieval tests."""

from __future__ import annotations

import base64
import io
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def jpeg_bytes(colour: tuple[int, int, int], size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_images_tsv(path: Path, ids: Iterable[int | str], urlsafe: bool = False) -> None:
    lines = []
    for number, image_id in enumerate(ids):
        data = jpeg_bytes(((number * 37) % 256, (number * 91) % 256, (number * 53) % 256))
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
        lines.append(f"{image_id}\t{encoded}\n")
    path.write_text("".join(lines), encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def make_split(
    directory: Path,
    layout: str = "muge",
    split: str = "valid",
    n_images: int = 30,
    n_queries: int = 12,
    seed: int = 0,
) -> tuple[list[int], list[dict[str, Any]]]:
    """A small split in the MUGE (query_id/item_ids) or Chinese-CLIP (text_id/image_ids) layout."""
    rng = random.Random(seed)
    image_ids = rng.sample(range(1000, 9999), n_images)
    queries = []
    for number in range(n_queries):
        relevant = rng.sample(image_ids, rng.randint(1, 4))
        if layout == "muge":
            queries.append({"query_id": 100 + number, "query_text": f"商品{number}", "item_ids": relevant})
        else:
            queries.append({"text_id": 100 + number, "text": f"图片{number}", "image_ids": relevant})
    directory.mkdir(parents=True, exist_ok=True)
    if layout == "muge":
        write_images_tsv(directory / f"MR_{split}_imgs.tsv", image_ids)
        write_jsonl(directory / f"MR_{split}_queries.jsonl", queries)
    else:
        write_images_tsv(directory / f"{split}_imgs.tsv", image_ids)
        write_jsonl(directory / f"{split}_texts.jsonl", queries)
    return image_ids, queries


def official_scores(gold: Mapping[int, Sequence[int]], predictions: Mapping[int, Sequence[int]]) -> dict[str, float]:
    """A plain re-implementation of the official algorithm (REFERENCE.md), arithmetic included."""
    r1_stat = r5_stat = r10_stat = 0
    for qid in gold:
        truth = set(gold[qid])
        top = predictions[qid]
        if any(idx in top[:1] for idx in truth):
            r1_stat += 1
        if any(idx in top[:5] for idx in truth):
            r5_stat += 1
        if any(idx in top[:10] for idx in truth):
            r10_stat += 1
    r1, r5, r10 = r1_stat * 1.0 / len(gold), r5_stat * 1.0 / len(gold), r10_stat * 1.0 / len(gold)
    mean = (r1 + r5 + r10) / 3.0
    return {"r1": r1 * 100, "r5": r5 * 100, "r10": r10 * 100, "mean_recall": mean * 100}


def brute_force_topk(queries: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """Top-k pool indices by float64 inner product, ties to the earlier pool item: a full sort."""
    scores = queries.astype(np.float64) @ pool.astype(np.float64).T
    return np.array([sorted(range(len(pool)), key=lambda j, row=row: (-row[j], j))[:k] for row in scores])
