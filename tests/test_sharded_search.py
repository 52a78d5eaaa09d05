"""Sharded exact search under ``torchrun`` (gloo on the CPU): 2 and 3 processes give the
predictions of one process, byte for byte, with ties that cross shard boundaries, with
distractors (``--pool-extra``) and with undecodable images left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from models_fixtures import make_retrieval_split

from muge_eval.retrieval.sharded import NO_ITEM, PoolShard, merge_topk, shard_topk

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
LAUNCHER = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


def gloo_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
        "OMP_NUM_THREADS": "1",
        "MUGE_EVAL_DIST_BACKEND": "gloo",
        **extra,
    }


def test_merge_keeps_the_tie_rule_and_drops_padding() -> None:
    import numpy as np

    pool = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    queries = np.array([[1.0, 0.0]], dtype=np.float32)
    # Shards: positions {1, 2} and {0, 3}; the three tied rows must come out as 0, 1, 3.
    first = shard_topk(queries, PoolShard(pool[[1, 2]], np.array([1, 2])), 3, "numpy")
    second = shard_topk(queries, PoolShard(pool[[0, 3]], np.array([0, 3])), 3, "numpy")
    assert first.indices[0, 2] == NO_ITEM and first.scores[0, 2] == -np.inf
    merged = merge_topk([first, second], 3)
    assert merged.indices.tolist() == [[0, 1, 3]]
    # Fewer real rows than k across all shards: the padding is cut, never ranked.
    small = merge_topk([first, shard_topk(queries, PoolShard(pool[:0], np.zeros(0, dtype=np.int64)), 3, "numpy")], 3)
    assert small.indices.tolist() == [[1, 2]]


@pytest.mark.parametrize("ranks", [2, 3])
def test_sharded_topk_equals_one_process_with_ties_across_shards(tmp_path: Path, ranks: int) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "report.json"
    done = subprocess.run(
        [*LAUNCHER, "--nproc-per-node", str(ranks), str(TESTS / "sharded_search_worker.py"), str(out)],
        env=gloo_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["world_size"] == ranks
    assert set(report["cases"]) == {"ties", "small shards", "more ranks than chunks"}
    for name, case in report["cases"].items():
        assert case["same_indices"] and case["same_scores"] and case["same_image_queries"], name
        assert case["width"] == 10
    assert report["cases"]["ties"]["queries_with_ties_across_shards"] > 0


def tied_split(directory: Path, bad_rows: tuple[int, ...] = ()) -> Path:
    """A MUGE-layout valid split where many images are byte-identical copies of others
    (spread over the whole table, so exact ties cross every shard boundary)."""
    make_retrieval_split(directory, n_images=40, n_queries=12, bad_rows=bad_rows)
    table = directory / "MR_valid_imgs.tsv"
    lines = table.read_text(encoding="utf-8").splitlines()
    for row in range(len(lines)):
        source = row % 7  # rows 7.. repeat the images of rows 0..6
        if row >= 7 and row not in bad_rows and source not in bad_rows:
            lines[row] = lines[row].split("\t")[0] + "\t" + lines[source].split("\t")[1]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def distractor_tsv(path: Path, source: Path, first_id: int, count: int) -> Path:
    """``count`` distractors reusing the split's images (so they tie with pool images)."""
    images = [line.split("\t")[1] for line in source.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(f"{first_id + i}\t{images[i % len(images)]}\n" for i in range(count)), encoding="utf-8")
    return path


def run_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        *("-m", "muge_eval", "--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data)),
        *("--split", "valid", "--model", "rank_test_adapters:PixelHash", "--model-args", "dim=6"),
        *("--model-name", "pixel-hash", "--output-dir", str(out), "--batch-size", "2", "--chunk-size", "6"),
        *("--num-workers", "0", "--cache-dir", str(out.parent / f"{out.name}-cache")),
        *extra,
    ]


def run_ranks(ranks: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *args] if ranks == 1 else [*LAUNCHER, "--nproc-per-node", str(ranks), *args]
    return subprocess.run(command, env=gloo_env(), capture_output=True, text=True, timeout=240)


def test_runs_on_2_and_3_ranks_write_the_single_process_predictions(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = tied_split(tmp_path / "data", bad_rows=(13,))
    extra = distractor_tsv(tmp_path / "extra.tsv", data / "MR_valid_imgs.tsv", 90_000, 17)
    common = ("--pool-extra", str(extra), "--skip-bad-images")
    outputs = {}
    for ranks in (1, 2, 3):
        out = tmp_path / f"ranks{ranks}"
        done = run_ranks(ranks, run_args(data, out, *common))
        assert done.returncode == 0, done.stderr[-3000:]
        outputs[ranks] = out
    one = outputs[1]
    first = json.loads((one / "results.json").read_text())
    predictions = [json.loads(line) for line in (one / "predictions.jsonl").read_text().splitlines()]
    # The distractors compete: some query's top 10 holds one, and the tied copies are there.
    ranked = [i for p in predictions for i in p["item_ids"]]
    assert any(i >= 90_000 for i in ranked)
    # The undecodable image, and the distractor that copies it, are left out of the pool.
    assert 1013 not in ranked and 90013 not in ranked
    assert first["protocol"]["skipped_images"] == [1013, 90013]
    recorded = first["protocol"]["pool_extra"]
    assert recorded["format"] == "muge-tsv" and recorded["images"] == 17 and len(recorded["fingerprint"]) >= 16
    for ranks in (2, 3):
        other = outputs[ranks]
        assert (other / "predictions.jsonl").read_bytes() == (one / "predictions.jsonl").read_bytes(), ranks
        second = json.loads((other / "results.json").read_text())
        for key in ("metrics", "protocol", "dataset", "main_metric"):
            assert first[key] == second[key], (ranks, key)
