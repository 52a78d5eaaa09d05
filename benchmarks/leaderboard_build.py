"""Time `leaderboard build` on a synthetic board at MUGE scale and report the site's size.

Full size: 100 models on 10 tasks of 5,000 items each (4 retrieval tasks with top-10
rankings, 3 caption tasks with captions, references and a per-image ROUGE-L, 3
text-to-image tasks with a per-image CLIP score and stored generated thumbnails), every
run with its per-sample records, 1,000 bootstrap resamples, every task's data given with
``--data-dir`` (5,000 small JPEGs per task) so the galleries write thumbnails. Some models
carry model cards, two tasks list published reference rows. ``--quick`` shrinks it for a
smoke run.

The anchor is what a plain script does for the same numbers: read every samples file,
then per model and column draw 1,000 resamples one at a time with numpy and take the
2.5/97.5 percentiles. The project is the whole ``leaderboard build`` (the same intervals,
paired tests, every page). Best of ``--repeats`` interleaved runs; the header names the
CPU, the load average and the BLAS kernel.

    python benchmarks/leaderboard_build.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from bench_env import best_of, load_average, print_machine

from muge_eval.leaderboard.board import load_board
from muge_eval.leaderboard.site import build_site
from muge_eval.progress import Progress

PER_ITEM = {"retrieval": ("hit1", "hit5", "hit10", "ap10", "ndcg10"), "caption": ("rouge_l",), "t2i": ("clip_score",)}
KINDS = ("retrieval", "caption", "t2i", "retrieval", "caption", "t2i", "retrieval", "caption", "t2i", "retrieval")
COLUMNS = {
    "retrieval": ["mean_recall", "r1", "r5", "r10", "map10", "ndcg10"],
    "caption": ["rouge_l"],
    "t2i": ["clip_score"],
}
PERCENT = {"higher_is_better": True, "unit": "percent", "description": ""}


def _info(kind: str) -> dict[str, Any]:
    if kind == "retrieval":
        fields = {"r1": ["hit1"], "r5": ["hit5"], "r10": ["hit10"], "map10": ["ap10"], "ndcg10": ["ndcg10"]}
        fields["mean_recall"] = ["hit1", "hit5", "hit10"]
        return {m: {**PERCENT, "aggregation": "mean", "item_fields": f, "scale": 100.0} for m, f in fields.items()}
    metric = COLUMNS[kind][0]
    return {metric: {**PERCENT, "aggregation": "mean", "item_fields": [metric], "scale": 1.0}}


def _document(task: str, kind: str, model: str, metrics: dict[str, float], card: dict[str, Any]) -> dict[str, Any]:
    model_record: dict[str, Any] = {"name": model, "adapter": "features", "args": {}, "fingerprint": None}
    if card:
        model_record["card"] = card
    return {
        "schema_version": "1.0",
        "toolkit": {"name": "muge-eval", "version": "0.1.0"},
        "task": {"name": task, "version": "1", "type": kind, "card_sha256": "0" * 64},
        "dataset": {"source": "x", "format": "x", "split": "valid", "fingerprint": f"sha256:{task}", "num_items": {}},
        "model": model_record,
        "metrics": metrics,
        "main_metric": COLUMNS[kind][0],
        "metric_info": _info(kind),
        "protocol": {},
        "run_config": {"split": "valid", "limit": None},
        "environment": {"python": "3", "packages": {}},
        "timings": {},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def _samples(kind: str, items: int, rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[str, float]]:
    if kind == "retrieval":
        codes = rng.integers(0, 4, size=items)
        samples: list[dict[str, Any]] = []
        for q, c in enumerate(codes):
            predicted = [int(i) for i in rng.integers(0, items, size=10)]
            samples.append(
                {
                    "direction": "text_to_image",
                    "query_id": q,
                    "predicted": predicted,
                    "relevant": [predicted[(0, 3, 7)[c]]] if c < 3 else [int(rng.integers(0, items))],
                    "hit1": bool(c == 0),
                    "hit5": bool(c <= 1),
                    "hit10": bool(c <= 2),
                    "ap10": float(1.0 / (1 + c)) if c < 3 else 0.0,
                    "ndcg10": float(1.0 / (1 + c)) if c < 3 else 0.0,
                    "query_text": f"查询 {q}",
                }
            )
        values = {f: float(np.mean([s[f] for s in samples]) * 100) for f in ("hit1", "hit5", "hit10", "ap10", "ndcg10")}
        metrics = {"r1": values["hit1"], "r5": values["hit5"], "r10": values["hit10"]}
        metrics.update(mean_recall=(metrics["r1"] + metrics["r5"] + metrics["r10"]) / 3)
        metrics.update(map10=values["ap10"], ndcg10=values["ndcg10"])
        return samples, metrics
    scores = rng.random(items) * 100
    if kind == "caption":
        samples = [
            {
                "image_id": str(i),
                "caption": f"一款商品 {i}",
                "references": [f"参考描述 {i}a", f"参考描述 {i}b"],
                "rouge_l": s,
            }
            for i, s in enumerate(scores.tolist())
        ]
        return samples, {"rouge_l": float(np.mean([s["rouge_l"] for s in samples]))}
    samples = [
        {"img_id": str(i), "description": f"商品描述 {i}", "clip_score": s} for i, s in enumerate(scores.tolist())
    ]
    return samples, {"clip_score": float(np.mean([s["clip_score"] for s in samples]))}


def _jpeg(rng: np.random.Generator, size: int = 96) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    pixels = rng.integers(0, 255, size=(size // 8, size // 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize((size, size)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _image_tsv(path: Path, ids: range, rng: np.random.Generator) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in ids:
            handle.write(f"{i}\t{base64.b64encode(_jpeg(rng)).decode()}\n")


def make_board(root: Path, models: int, tasks: int, items: int) -> tuple[Path, dict[str, Path]]:
    """The board, and each task's data folder (images by id)."""
    rng = np.random.default_rng(0)
    results = root / "results"
    results.mkdir(parents=True)
    data_dirs: dict[str, Path] = {}
    board_tasks = []
    generated = base64.b64encode(_jpeg(rng)).decode()
    for t in range(tasks):
        kind = KINDS[t % len(KINDS)]
        task = f"{kind}-{t}"
        data = root / "data" / task
        data.mkdir(parents=True)
        _image_tsv(data / "images_valid.tsv", range(items), rng)
        data_dirs[task] = data
        entry: dict[str, Any] = {
            "name": task,
            "split": "valid",
            "main_metric": COLUMNS[kind][0],
            "columns": COLUMNS[kind],
            "fingerprints": [f"sha256:{task}"],
        }
        if t < 2:
            entry["references"] = [
                {"model": "Published-B/16", "metrics": {COLUMNS[kind][0]: 40.0}, "source": "A paper, Table 1"}
            ]
        board_tasks.append(entry)
        for m in range(models):
            samples, metrics = _samples(kind, items, rng)
            card = {"parameters": float(10 ** rng.uniform(7, 10)), "weights": "open" if m % 2 else "closed"}
            if m % 3:
                card.update(release_date=f"20{20 + m % 6}-0{1 + m % 9}", organisation=f"Lab {m % 7}")
            document = _document(task, kind, f"m{m}", metrics, card if m % 4 else {})
            stem = f"{task}--m{m}"
            files = {"samples": f"{stem}.samples.jsonl"}
            (results / files["samples"]).write_text(
                "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8"
            )
            if kind == "t2i":
                files["gallery"] = f"{stem}.gallery.tsv"
                lines = "".join(f"{i}\t{generated}\n" for i in range(0, items, max(1, items // 50)))
                (results / files["gallery"]).write_text(lines, encoding="utf-8")
            document["files"] = files
            (results / f"{stem}.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    board = {
        "title": {"en": "benchmark", "zh": "基准"},
        "bootstrap": {"resamples": 1000, "seed": 1},
        "tasks": board_tasks,
    }
    (root / "board.yaml").write_text(yaml.safe_dump(board, allow_unicode=True), encoding="utf-8")
    return root, data_dirs


def _megabytes(folder: Path, pattern: str = "*") -> float:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file()) / 1e6


def plain_bootstrap(board_dir: Path, resamples: int = 1000, seed: int = 1) -> dict[str, tuple[float, float]]:
    """The anchor: every model's and column's percentile interval, one resample at a time."""
    intervals = {}
    rng = np.random.default_rng(seed)
    for results in sorted((board_dir / "results").glob("*.json")):
        lines = (board_dir / "results" / f"{results.stem}.samples.jsonl").read_text(encoding="utf-8").splitlines()
        samples = [json.loads(line) for line in lines]
        kind = results.stem.split("-", 1)[0]
        if kind == "retrieval":
            per_item = {f: np.array([float(s[f]) for s in samples]) * 100 for f in PER_ITEM["retrieval"]}
            columns = {"r1": per_item["hit1"], "r5": per_item["hit5"], "r10": per_item["hit10"]}
            columns.update(mean_recall=(columns["r1"] + columns["r5"] + columns["r10"]) / 3)
            columns.update(map10=per_item["ap10"], ndcg10=per_item["ndcg10"])
        else:
            field = PER_ITEM[kind][0]
            columns = {field: np.array([s[field] for s in samples])}
        for name, values in columns.items():
            draws = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(resamples)]
            low, high = np.percentile(draws, [2.5, 97.5])
            intervals[f"{results.stem}/{name}"] = (float(low), float(high))
    return intervals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 models, 3 tasks, 500 items")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, interleaved; the best is kept")
    args = parser.parse_args()
    models, tasks, items = (10, 3, 500) if args.quick else (100, 10, 5000)
    print_machine(f"leaderboard build: {models} models x {tasks} tasks x {items} items, 1,000 resamples")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        board_dir, data_dirs = make_board(Path(tmp) / "board", models, tasks, items)
        made = time.perf_counter() - started
        sites = iter(range(1000))
        progress = Progress(quiet=args.quiet)
        timings = best_of(
            max(1, args.repeats),
            {
                "plain bootstrap (anchor)": lambda: plain_bootstrap(board_dir),
                "leaderboard build": lambda: build_site(
                    load_board(board_dir), Path(tmp) / f"site-{next(sites)}", data_dirs, progress=progress
                ),
            },
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        site = Path(tmp) / "site-0"
        board_mb = _megabytes(board_dir / "results")
        samples_mb = _megabytes(site, "*.samples.jsonl")
        pages_mb = _megabytes(site, "*.html")
    built = timings["leaderboard build"].value
    print(f"board: results {board_mb:.0f} MB (made in {made:.1f} s, not counted)")
    for name, timing in timings.items():
        print(f"{name:26s} {timing.wall_s:7.2f} s wall {timing.cpu_s:7.2f} s CPU (best of {timing.repeats})")
    ratio = timings["leaderboard build"].wall_s / timings["plain bootstrap (anchor)"].wall_s
    print(f"leaderboard build / anchor: {ratio:.2f}x (the build also runs paired tests and writes every page)")
    print(f"peak RSS {peak_mb:.0f} MB")
    print(
        f"site: {built.bytes_total / 1e6:.0f} MB in all: {built.pages} pages ({pages_mb:.0f} MB), "
        f"samples copies {samples_mb:.0f} MB, {built.images} thumbnails {built.bytes_images / 1e6:.1f} MB "
        f"(budget 50 MB, {built.images_over_budget} left out)"
    )
    print(f"load average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
