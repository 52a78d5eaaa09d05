"""Synthetic results files, samples and boards for the leaderboard and regress tests."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from muge_eval.results import validate_results

RETRIEVAL_TASK = "muge-retrieval-sample"
CAPTION_TASK = "caption-sample"
CAPTION_FP = "sha256:" + "ef" * 32
# Image ids of the synthetic retrieval pool (the relevant image of query q is POOL[q % 40]).
POOL = [500 + i for i in range(40)]
RETRIEVAL_FP = "sha256:" + "ab" * 32
T2I_TASK = "t2i-sample"
T2I_FP = "sha256:" + "cd" * 32
PERCENT = {"higher_is_better": True, "unit": "percent", "description": ""}


def retrieval_samples(hits: Sequence[int], seed: int = 0) -> list[dict[str, Any]]:
    """Per-query records: hit1 <= hit5 <= hit10 derived from a rank code per query
    (0: hit at 1, 1: hit in top 5, 2: hit in top 10, 3: miss)."""
    rng = np.random.default_rng(seed)
    samples = []
    for query, code in enumerate(hits):
        relevant = POOL[query % len(POOL)]
        others = [i for i in POOL if i != relevant]
        predicted = [int(i) for i in rng.choice(others, size=10, replace=False)]
        if code <= 2:
            predicted[(0, 3, 7)[code]] = relevant
        samples.append(
            {
                "direction": "text_to_image",
                "query_id": 1000 + query,
                "predicted": predicted,
                "relevant": [relevant],
                "hit1": code == 0,
                "hit5": code <= 1,
                "hit10": code <= 2,
                "ap10": float(rng.random()) if code <= 2 else 0.0,
                "ndcg10": float(rng.random()) if code <= 2 else 0.0,
                "query_text": f"query {query}",
            }
        )
    return samples


def retrieval_metrics(samples: Sequence[dict[str, Any]]) -> dict[str, float]:
    n = len(samples)
    r = {k: sum(bool(s[f"hit{k}"]) for s in samples) / n * 100 for k in (1, 5, 10)}
    return {
        "r1": r[1],
        "r5": r[5],
        "r10": r[10],
        "mean_recall": (r[1] + r[5] + r[10]) / 3,
        "map10": sum(s["ap10"] for s in samples) / n * 100,
        "ndcg10": sum(s["ndcg10"] for s in samples) / n * 100,
    }


def results_document(
    model: str,
    metrics: dict[str, float],
    metric_info: dict[str, dict[str, Any]],
    task: str = RETRIEVAL_TASK,
    task_type: str = "retrieval",
    fingerprint: str = RETRIEVAL_FP,
    main_metric: str = "mean_recall",
    split: str = "valid",
    protocol: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_version": "1.0",
        "toolkit": {"name": "muge-eval", "version": "0.1.0"},
        "task": {"name": task, "version": "1", "type": task_type, "card_sha256": "0" * 64},
        "dataset": {
            "source": "local:/data",
            "format": "test",
            "split": split,
            "fingerprint": fingerprint,
            "num_items": {"queries": 10},
            "files": [],
        },
        "model": {"name": model, "adapter": "features", "args": {"dim": "64"}, "fingerprint": None},
        "metrics": metrics,
        "main_metric": main_metric,
        "metric_info": metric_info,
        "protocol": protocol if protocol is not None else {"k": 10},
        "run_config": {"split": split, "batch_size": 64, "seed": 1234, "limit": None},
        "environment": {"python": "3.11.7", "packages": {"numpy": "2.0"}, "git_commit": None},
        "timings": {"total_s": 1.5},
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    validate_results(document, "<test>")
    return document


def write_run(directory: Path, document: dict[str, Any], samples: Sequence[dict[str, Any]] | None = None) -> Path:
    """A run folder as ``muge-eval run --log-samples`` writes it; returns the results path."""
    directory.mkdir(parents=True, exist_ok=True)
    document = dict(document)
    if samples is not None:
        (directory / "samples.jsonl").write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8"
        )
        document["files"] = {"samples": "samples.jsonl"}
    path = directory / "results.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def retrieval_run(directory: Path, model: str, hits: Sequence[int], seed: int = 0, **kwargs: Any) -> Path:
    samples = retrieval_samples(hits, seed)
    metrics = retrieval_metrics(samples)
    info = {name: dict(PERCENT) for name in metrics}
    return write_run(directory, results_document(model, metrics, info, **kwargs), samples)


def png_bytes(key: str, size: int = 48) -> bytes:
    """A small PNG of one colour derived from ``key``."""
    from PIL import Image

    digest = hashlib.sha256(key.encode()).digest()
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (digest[0], digest[1], digest[2])).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_tsv(path: Path, ids: Sequence[object], prefix: str = "") -> Path:
    """``id<TAB>base64 PNG`` lines, the MUGE image file layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{i}\t{base64.b64encode(png_bytes(prefix + str(i))).decode()}\n" for i in ids]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def t2i_run(directory: Path, model: str, fid: float, is_mean: float, prompts: Mapping[str, str] | None = None) -> Path:
    """A text-to-image run; with ``prompts`` (img_id -> description) also its samples and
    its generated images (predictions.tsv), as ``run --log-samples`` writes them."""
    info = {
        "fid": {"higher_is_better": False, "unit": "score", "description": "Frechet Inception Distance"},
        "is_mean": {"higher_is_better": True, "unit": "score", "description": "Inception Score"},
    }
    document = results_document(model, {"fid": fid, "is_mean": is_mean}, info, T2I_TASK, "t2i", T2I_FP, "fid")
    if prompts is None:
        return write_run(directory, document)
    write_image_tsv(directory / "predictions.tsv", list(prompts), prefix=f"generated-by-{model}-")
    samples = [{"img_id": key, "description": text} for key, text in prompts.items()]
    path = write_run(directory, document, samples)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["files"]["predictions_text_to_image"] = "predictions.tsv"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def caption_run(
    directory: Path, model: str, rouge: Sequence[float], captions: Sequence[str], extra_reference: str = ""
) -> Path:
    """A captioning run on images c0, c1, ... with per-image ROUGE-L (its spec as recorded)."""
    from muge_eval.caption.task import CaptionTask

    info = {s.name: s.recorded() for s in CaptionTask.metric_specs() if s.name == "rouge_l"}
    samples = [
        {
            "image_id": f"c{i}",
            "caption": text,
            "references": [f"reference {i}a", f"reference {i}b", *([extra_reference] if extra_reference else [])],
            "rouge_l": value,
        }
        for i, (value, text) in enumerate(zip(rouge, captions, strict=True))
    ]
    metrics = {"rouge_l": float(np.mean(rouge))}
    document = results_document(model, metrics, info, CAPTION_TASK, "caption", CAPTION_FP, "rouge_l")
    return write_run(directory, document, samples)


def make_board(
    directory: Path,
    with_t2i: bool = False,
    with_caption: bool = False,
    references: Mapping[str, list[dict[str, Any]]] | None = None,
    **extra: Any,
) -> Path:
    tasks: list[dict[str, Any]] = [
        {
            "name": RETRIEVAL_TASK,
            "title": "Retrieval",
            "split": "valid",
            "main_metric": "mean_recall",
            "columns": ["mean_recall", "r1", "r5", "r10"],
            "fingerprints": [RETRIEVAL_FP],
        }
    ]
    if with_t2i:
        tasks.append(
            {
                "name": T2I_TASK,
                "split": "valid",
                "main_metric": "fid",
                "columns": ["fid", "is_mean"],
                "fingerprints": [T2I_FP],
            }
        )
    if with_caption:
        tasks.append(
            {
                "name": CAPTION_TASK,
                "title": {"en": "Captions", "zh": "图像描述"},
                "split": "valid",
                "main_metric": "rouge_l",
                "columns": ["rouge_l"],
                "fingerprints": [CAPTION_FP],
            }
        )
    doc = {
        "title": "Test board",
        "description": "for tests",
        "tasks": tasks,
        "bootstrap": {"resamples": 200, "seed": 7},
    }
    for task in tasks:
        if references and task["name"] in references:
            task["references"] = references[task["name"]]
    doc.update(extra)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "board.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return directory
