"""``torchrun --nproc-per-node 2 -m muge_eval run`` on a t2i task: two CPU processes on gloo
share the prompts of a diffusers pipeline batch by batch, write into one image store, and
rank 0 writes the predictions and numbers of a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from t2i_helpers import tiny_pipeline, write_dataset

ROOT = Path(__file__).resolve().parents[1]


def command(pipeline: Path, data: Path, out: Path) -> list[str]:
    log = out.parent / f"{out.name}.log"
    return [
        *("-m", "muge_eval", "--quiet", "run", "--task", "muge-t2i", "--data-dir", str(data), "--split", "valid"),
        *("--model", "t2i_helpers:LoggingDiffusers", "--model-args", f"pipeline={pipeline},log={log}"),
        *("--judge", "random", "--batch-size", "2", "--chunk-size", "2", "--num-workers", "0"),
        *("--output-dir", str(out), "--cache-dir", str(out.parent / f"{out.name}-cache")),
    ]


def rank_batches(log: Path) -> dict[str, list[list[str]]]:
    batches: dict[str, list[list[str]]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        rank, *ids = line.split()
        batches.setdefault(rank, []).append(ids)
    return batches


@pytest.mark.slow
def test_two_gloo_ranks_share_the_prompts_and_match_one_process(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    pipeline = tiny_pipeline(tmp_path / "tiny")
    data = tmp_path / "data"
    ids = write_dataset(data, 5, size=16)
    # torchrun gives each process one thread; the reference run gets the same.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "OMP_NUM_THREADS": "1",
        "MUGE_EVAL_DIST_BACKEND": "gloo",
        "MUGE_EVAL_INCEPTION_WEIGHTS": "",
    }
    single = subprocess.run(
        [sys.executable, *command(pipeline, data, tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    spread = subprocess.run(
        [*launcher, *command(pipeline, data, tmp_path / "two")], env=env, capture_output=True, text=True, timeout=300
    )
    assert spread.returncode == 0, spread.stderr[-3000:]
    # Batches of 2 as one process cuts them; batch b drawn by rank b % 2.
    assert rank_batches(tmp_path / "one.log") == {"0": [ids[0:2], ids[2:4], ids[4:5]]}
    assert rank_batches(tmp_path / "two.log") == {"0": [ids[0:2], ids[4:5]], "1": [ids[2:4]]}
    one, two = tmp_path / "one", tmp_path / "two"
    assert (one / "predictions.tsv").read_bytes() == (two / "predictions.tsv").read_bytes()
    first, second = (json.loads((d / "results.json").read_text()) for d in (one, two))
    assert set(first["metrics"]) == {"clip_score", "r_precision", "cmmd"}
    for key in ("metrics", "protocol", "dataset", "main_metric"):
        assert first[key] == second[key], key
    assert spread.stdout.count("results:") == 1  # rank 0 alone reports
