"""``torchrun --nproc-per-node 2 -m muge_eval run``: two CPU processes on gloo write one
results file with the predictions and numbers of a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from models_fixtures import build_hf_chinese_clip, chunk_files, make_retrieval_split

from muge_eval.distributed import DistContext
from muge_eval.encoding.encoder import ChunkPlan

ROOT = Path(__file__).resolve().parents[1]


def test_chunks_are_shared_round_robin() -> None:
    plan = ChunkPlan.build(count=45, batch_size=4, chunk_size=10)
    assert plan.chunk_rows == 12
    assert plan.chunks() == [(0, 12), (12, 24), (24, 36), (36, 45)]
    assert plan.batches(36, 45) == [(36, 40), (40, 44), (44, 45)]
    contexts = [DistContext(rank, 3) for rank in range(3)]
    assert [plan.rows_of_rank(contexts[0], r) for r in range(3)] == [21, 12, 12]
    for chunk in range(4):
        assert sum(ctx.owns(chunk) for ctx in contexts) == 1


def command(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    """A run with its own cache root (converted tables and embeddings) beside ``out``."""
    return [
        *("-m", "muge_eval", "--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data)),
        *("--split", "valid", "--model", "hf-chinese-clip", "--model-args", f"model={model},device=cpu"),
        *("--model-name", "tiny", "--output-dir", str(out), "--batch-size", "4", "--chunk-size", "8"),
        *("--num-workers", "0", "--cache-dir", str(out.parent / f"{out.name}-cache")),
        *extra,
    ]


def test_two_gloo_processes_match_one(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = build_hf_chinese_clip(tmp_path / "ckpt")
    data = make_retrieval_split(tmp_path / "data", n_images=60, n_queries=20)
    # torchrun gives each process one thread; the reference run gets the same.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MUGE_EVAL_DIST_BACKEND": "gloo"}
    single = subprocess.run(
        [sys.executable, *command(model, data, tmp_path / "one", "--no-embedding-cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr
    cache = tmp_path / "two-cache"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    spread = subprocess.run(
        [*launcher, *command(model, data, tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert spread.returncode == 0, spread.stderr[-3000:]
    one, two = tmp_path / "one", tmp_path / "two"
    assert (one / "predictions.jsonl").read_bytes() == (two / "predictions.jsonl").read_bytes()
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    first, second = (json.loads((d / "results.json").read_text()) for d in (one, two))
    for key in ("metrics", "protocol", "dataset", "model", "run_config", "task", "main_metric"):
        assert first[key] == second[key], key
    assert spread.stdout.count("results:") == 1  # rank 0 alone reports
    # Both ranks wrote their chunks: 60 images in chunks of 8, 20 texts.
    assert (
        len(chunk_files(cache / "embeddings", "images")) == 8 and len(chunk_files(cache / "embeddings", "texts")) == 3
    )
