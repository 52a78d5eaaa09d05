"""The image data path on 1 core, 2 cores and all cores: decoding workers against the main process.

Builds (once) N 224x224 JPEGs in a MUGE base64 TSV and a tiny random Chinese-CLIP (so
decoding is about half of the work: the case where the data path matters on a CPU). For
each core count, a subprocess pinned to that many cores (``sched_setaffinity``, set before
torch starts its threads) times, interleaved, best of ``--repeats``:

- anchor: the Chinese-CLIP eval scripts' way: PIL decode and float tensors in the main
  process, batch 64, then the image tower;
- muge-eval's data path (``iter_pixel_batches`` + ``encode_pixels``, what ``muge-eval
  run`` does per batch of 32) decoding in the main process (``--num-workers 0``);
- the same by default: up to one worker per core but one, as many as the plan measured
  on the first batches predicts to be fastest (the plan is printed);
- the same with the workers forced (one per core but one, at least one; no plan).

Prints images/s and the ratio to the anchor for each (target: the default at least as
fast as the main process on 2 cores, and faster as cores grow).

Usage: python benchmarks/data_path.py [--images N] [--cores 1,2,all] [--repeats N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_env import MIN_REPEATS, load_average, print_machine, usable_cores

BATCH = 32


def anchor_pipeline(items: list[bytes], adapter: Any) -> None:
    """Chinese-CLIP eval scripts: PIL decode, float tensors, batch 64, in the main process."""
    import torch

    from muge_eval.data.image_transform import ImageTransform

    transform = ImageTransform(224, draft=False)
    mean, std = torch.tensor(transform.mean).view(3, 1, 1), torch.tensor(transform.std).view(3, 1, 1)
    with torch.inference_mode():
        for start in range(0, len(items), 64):
            tensors = [
                (torch.from_numpy(transform(d)).permute(2, 0, 1).float() / 255 - mean) / std
                for d in items[start : start + 64]
            ]
            adapter._image_features(torch.stack(tensors)).float().cpu()


def muge_pipeline(table: Any, adapter: Any, workers: int, adaptive: bool = True) -> None:
    from muge_eval.data.loader import iter_pixel_batches
    from muge_eval.encoding.images import TableImageRows

    rows = TableImageRows(table, list(range(len(table))), "benchmark")
    ranges = [(s, min(len(table), s + BATCH)) for s in range(0, len(table), BATCH)]
    for batch in iter_pixel_batches(rows, ranges, adapter.image_transform(), workers, adaptive=adaptive):
        adapter.encode_pixels(batch.pixels)


def recording_plans() -> list[Any]:
    """The plans the adaptive loader makes from now on (appended as they are made)."""
    from muge_eval.data import loader

    plans: list[Any] = []
    choose = loader._plan

    def record(*args: Any) -> Any:
        plans.append(choose(*args))
        return plans[-1]

    loader._plan = record
    return plans


def worker(cores: int, work: Path, repeats: int) -> None:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    import torch
    from bench_env import best_of

    from muge_eval.data.image_table import image_table_from_tsv
    from muge_eval.data.loader import default_workers
    from muge_eval.io.image_tsv import iter_image_tsv
    from muge_eval.retrieval.adapters.hf_chinese_clip import HFChineseCLIP

    tsv = work / "data" / "MR_valid_imgs.tsv"
    table = image_table_from_tsv(tsv, "int", "benchmark", work / "datasets-cache")
    items = [item.data for item in iter_image_tsv(tsv, int)]
    adapter = HFChineseCLIP(model=str(work / "model-tiny"), device="cpu", dtype="float32")
    default, forced = default_workers(), max(1, default_workers())
    contenders = {
        "anchor": lambda: anchor_pipeline(items, adapter),
        "main process": lambda: muge_pipeline(table, adapter, 0),
        f"default (up to {default} workers)": lambda: muge_pipeline(table, adapter, default),
        f"{forced} worker(s), forced": lambda: muge_pipeline(table, adapter, forced, adaptive=False),
    }
    muge_pipeline(table, adapter, 0)  # warm-up: first model calls
    plans = recording_plans()
    timings = best_of(repeats, contenders)
    chosen = sorted({(p.workers, p.model_threads) for p in plans})
    info = {"torch_threads": torch.get_num_threads(), "images": len(items), "plans": chosen}
    print(json.dumps(info))
    print(json.dumps({name: [t.wall_s, t.cpu_s] for name, t in timings.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--cores", default="1,2,all", help="core counts to measure, comma-separated ('all' = usable)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated data and model here")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.workdir, args.repeats)
        return
    import numpy  # noqa: F401
    import torch  # noqa: F401  (loaded so the header names their BLAS and OpenMP)
    from retrieval_e2e import build_model, build_split

    all_cores = usable_cores()
    counts = sorted({all_cores if c == "all" else min(int(c), all_cores) for c in args.cores.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        if not (work / "data" / "MR_valid_imgs.tsv").is_file():
            build_split(work / "data", args.images, 64)
        if not (work / "model-tiny" / "config.json").is_file():
            build_model(work / "model-tiny", "tiny")
        print_machine(f"image data path: {args.images:,} JPEGs 224x224, tiny Chinese-CLIP, batch {BATCH}")
        print(f"{'cores':>5s}  {'pipeline':32s} {'images/s':>9s} {'/ anchor':>9s} {'CPU s':>7s}")
        for cores in counts:
            command = [sys.executable, __file__, "--worker", str(cores), "--workdir", str(work)]
            command += ["--repeats", str(args.repeats)]
            started = time.perf_counter()
            lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
            info, timings = json.loads(lines[-2]), json.loads(lines[-1])
            anchor_wall = timings["anchor"][0]
            for name, (wall, cpu) in timings.items():
                rate = info["images"] / wall
                print(f"{cores:5d}  {name:32s} {rate:9.1f} {anchor_wall / wall:8.2f}x {cpu:7.2f}")
            plans = ", ".join(f"{w} workers, model threads {t or 'unchanged'}" for w, t in info["plans"]) or "none"
            elapsed = time.perf_counter() - started
            print(f"       (torch threads {info['torch_threads']}; default's plans: {plans}; {elapsed:.0f} s)")
    print(f"best of {max(MIN_REPEATS, args.repeats)} interleaved repeats; load average at the end {load_average()}")
    print("target: default workers at least as fast as the main process on 2 cores, faster as cores grow")


if __name__ == "__main__":
    main()
