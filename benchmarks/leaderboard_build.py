"""Time `leaderboard build` on a synthetic board at MUGE scale.

Full size: 20 models on a retrieval task of 5,008 queries (the MUGE MR valid split) and
20 models on a caption-like task of 10,000 images with a per-image rouge_l, 1,000
bootstrap resamples. ``--quick`` shrinks it for a smoke run.

The anchor is what a plain script does for the same numbers: read every samples file,
then per model and column draw 1,000 resamples one at a time with numpy and take the
2.5/97.5 percentiles. The project is the whole ``leaderboard build`` (the same intervals,
paired tests, every page). Best of ``--repeats`` interleaved runs; the header names the
CPU, the load average and the BLAS kernel.

    python benchmarks/leaderboard_build.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from bench_env import MIN_REPEATS, best_of, load_average, print_machine

from muge_eval.leaderboard.board import load_board
from muge_eval.leaderboard.site import build_site

RETRIEVAL_FP = "sha256:" + "ab" * 32
CAPTION_FP = "sha256:" + "cd" * 32
PERCENT = {"higher_is_better": True, "unit": "percent", "description": ""}


def _document(task: str, kind: str, fingerprint: str, model: str, metrics: dict[str, float]) -> dict[str, object]:
    return {
        "schema_version": "1.0",
        "toolkit": {"name": "muge-eval", "version": "0.1.0"},
        "task": {"name": task, "version": "1", "type": kind, "card_sha256": "0" * 64},
        "dataset": {"source": "x", "format": "x", "split": "valid", "fingerprint": fingerprint, "num_items": {}},
        "model": {"name": model, "adapter": "features", "args": {}, "fingerprint": None},
        "metrics": metrics,
        "main_metric": next(iter(metrics)),
        "metric_info": dict.fromkeys(metrics, PERCENT),
        "protocol": {},
        "run_config": {"split": "valid", "limit": None},
        "environment": {"python": "3", "packages": {}},
        "timings": {},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def _write(results: Path, model: str, document: dict[str, object], samples: list[dict[str, object]]) -> None:
    document["files"] = {"samples": f"{model}.samples.jsonl"}
    (results / f"{model}.samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    (results / f"{model}.json").write_text(json.dumps(document), encoding="utf-8")


def make_board(root: Path, models: int, queries: int, images: int) -> Path:
    rng = np.random.default_rng(0)
    results = root / "results"
    results.mkdir(parents=True)
    for m in range(models):
        codes = rng.integers(0, 4, size=queries)
        samples: list[dict[str, object]] = [
            {
                "direction": "text_to_image",
                "query_id": q,
                "hit1": bool(c == 0),
                "hit5": bool(c <= 1),
                "hit10": bool(c <= 2),
                "ap10": 0.0,
                "ndcg10": 0.0,
            }
            for q, c in enumerate(codes)
        ]
        r = {k: float(np.mean([s[f"hit{k}"] for s in samples]) * 100) for k in (1, 5, 10)}
        metrics = {"mean_recall": (r[1] + r[5] + r[10]) / 3, "r1": r[1], "r5": r[5], "r10": r[10]}
        _write(results, f"retrieval-m{m}", _document("retrieval", "retrieval", RETRIEVAL_FP, f"m{m}", metrics), samples)
        scores = rng.random(images)
        caption_samples: list[dict[str, object]] = [
            {"image_id": f"{i:032x}", "rouge_l": float(s)} for i, s in enumerate(scores)
        ]
        metrics = {"rouge_l": float(scores.mean() * 100)}
        document = _document("caption", "caption", CAPTION_FP, f"m{m}", metrics)
        _write(results, f"caption-m{m}", document, caption_samples)
    board = {
        "title": "benchmark",
        "bootstrap": {"resamples": 1000, "seed": 1},
        "tasks": [
            {
                "name": "retrieval",
                "split": "valid",
                "main_metric": "mean_recall",
                "columns": ["mean_recall", "r1", "r5", "r10"],
                "fingerprints": [RETRIEVAL_FP],
            },
            {
                "name": "caption",
                "split": "valid",
                "main_metric": "rouge_l",
                "columns": ["rouge_l"],
                "fingerprints": [CAPTION_FP],
            },
        ],
    }
    (root / "board.yaml").write_text(yaml.safe_dump(board), encoding="utf-8")
    return root


def plain_bootstrap(board_dir: Path, resamples: int = 1000, seed: int = 1) -> dict[str, tuple[float, float]]:
    """The anchor: every model's and column's percentile interval, one resample at a time."""
    intervals = {}
    rng = np.random.default_rng(seed)
    for results in sorted((board_dir / "results").glob("*.json")):
        lines = (board_dir / "results" / f"{results.stem}.samples.jsonl").read_text(encoding="utf-8").splitlines()
        samples = [json.loads(line) for line in lines]
        if results.stem.startswith("retrieval"):
            hits = {k: np.array([float(s[f"hit{k}"]) for s in samples]) * 100 for k in (1, 5, 10)}
            columns = {"mean_recall": (hits[1] + hits[5] + hits[10]) / 3, **{f"r{k}": v for k, v in hits.items()}}
        else:
            columns = {"rouge_l": np.array([s["rouge_l"] for s in samples]) * 100}
        for name, values in columns.items():
            draws = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(resamples)]
            low, high = np.percentile(draws, [2.5, 97.5])
            intervals[f"{results.stem}/{name}"] = (float(low), float(high))
    return intervals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 models, 500 queries, 1,000 images")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="runs of each; the best is kept")
    args = parser.parse_args()
    models, queries, images = (4, 500, 1000) if args.quick else (20, 5008, 10000)
    print_machine(f"leaderboard build: {models} + {models} models, {queries} queries, {images} images, 1,000 resamples")
    with tempfile.TemporaryDirectory() as tmp:
        board_dir = make_board(Path(tmp) / "board", models, queries, images)
        sites = iter(range(1000))
        timings = best_of(
            args.repeats,
            {
                "plain bootstrap (anchor)": lambda: plain_bootstrap(board_dir),
                "leaderboard build": lambda: build_site(load_board(board_dir), Path(tmp) / f"site-{next(sites)}"),
            },
        )
        pages = len(list((Path(tmp) / "site-0").rglob("*.html")))
    view = timings["leaderboard build"].value
    for name, timing in timings.items():
        print(f"{name:26s} {timing.wall_s:7.2f} s wall {timing.cpu_s:7.2f} s CPU (best of {timing.repeats})")
    ratio = timings["leaderboard build"].wall_s / timings["plain bootstrap (anchor)"].wall_s
    print(f"leaderboard build / anchor: {ratio:.2f}x, for {len(view.rows)} models and {pages} pages")
    print(f"load average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
