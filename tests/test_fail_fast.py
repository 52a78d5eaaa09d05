"""Fail-fast ``torchrun`` runs (gloo on the CPU): one rank raising, being killed or hanging
ends every rank within a bounded time, with a non-zero exit and the failing rank's message
printed once; the embedding cache keeps the finished chunks, so the rerun resumes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from models_fixtures import chunk_files, make_retrieval_split
from test_sharded_search import LAUNCHER, gloo_env

from muge_eval.distributed import collective_timeout
from muge_eval.errors import UsageError

pytestmark = pytest.mark.filterwarnings("ignore")


def run_args(data: Path, cache: Path, model_args: str, quiet: bool = True) -> list[str]:
    return [
        *("-m", "muge_eval", *(["--quiet"] if quiet else []), "run", "--task", "muge-retrieval"),
        *("--data-dir", str(data), "--split", "valid", "--model", "rank_test_adapters:Faulty"),
        *("--model-args", model_args, "--model-name", "faulty", "--output-dir", str(cache.parent / "out")),
        *("--batch-size", "2", "--chunk-size", "4", "--num-workers", "0", "--cache-dir", str(cache)),
    ]


def launch(ranks: int, args: list[str], timeout_s: str = "600") -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [*LAUNCHER, "--nproc-per-node", str(ranks), *args],
        env=gloo_env(MUGE_EVAL_DIST_TIMEOUT=timeout_s),
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done, time.perf_counter() - started


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_retrieval_split(tmp_path_factory.mktemp("split"), n_images=40, n_queries=8)


def test_the_collective_timeout_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUGE_EVAL_DIST_TIMEOUT", raising=False)
    assert collective_timeout() == 1800.0
    monkeypatch.setenv("MUGE_EVAL_DIST_TIMEOUT", "2.5")
    assert collective_timeout() == 2.5
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv("MUGE_EVAL_DIST_TIMEOUT", bad)
        with pytest.raises(UsageError, match="MUGE_EVAL_DIST_TIMEOUT"):
            collective_timeout()


def test_one_rank_raising_stops_every_rank_and_the_rerun_resumes(split: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    cache = tmp_path / "cache"
    # Rank 1 fails on its third batch, after finishing its first chunk (two batches). With
    # a 600 s collective timeout, only the fail-fast path can end rank 0 quickly.
    done, seconds = launch(2, run_args(split, cache, "fail_rank=1,mode=usage,after=2"))
    assert done.returncode != 0
    assert seconds < 60, seconds
    output = done.stdout + done.stderr
    assert output.count("injected failure on rank 1") == 1, output[-3000:]
    assert "error: rank 1 of 2: injected failure on rank 1" in done.stderr
    assert not (tmp_path / "out" / "results.json").exists()
    kept = chunk_files(cache / "embeddings", "images")
    texts = chunk_files(cache / "embeddings", "texts")
    assert kept and len(texts) == 2  # the finished chunks stay for the rerun
    rerun = subprocess.run(
        [sys.executable, *run_args(split, cache, "fail_rank=", quiet=False)],
        env=gloo_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"reused {len(kept) + 2} chunk(s), encoded {10 - len(kept)}" in rerun.stderr
    assert (tmp_path / "out" / "results.json").exists()


def test_every_rank_raising_prints_the_message_once(split: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    done, seconds = launch(3, run_args(split, tmp_path / "cache", "fail_rank=all,mode=bug,after=1"))
    assert done.returncode != 0
    assert seconds < 60, seconds
    output = done.stdout + done.stderr
    assert output.count("unexpected failure") == 1, output[-3000:]
    assert output.count("ZeroDivisionError: injected bug on rank") == 1


def test_a_killed_rank_stops_the_others_within_the_timeout(split: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    done, seconds = launch(2, run_args(split, tmp_path / "cache", "fail_rank=1,mode=kill,after=1"), timeout_s="20")
    assert done.returncode != 0
    assert seconds < 20 + 30, seconds
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_hung_rank_is_ended_after_the_timeout(split: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    done, seconds = launch(2, run_args(split, tmp_path / "cache", "fail_rank=1,mode=hang,after=1"), timeout_s="4")
    assert done.returncode != 0
    assert seconds < 4 + 40, seconds
    assert done.stderr.count("waited 4 s for the other ranks") == 1, done.stderr[-3000:]
    assert "MUGE_EVAL_DIST_TIMEOUT" in done.stderr
