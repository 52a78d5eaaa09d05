"""Embedding cache: a second run encodes nothing, and an interrupted run (an exception, or
SIGKILL at any moment) resumes and writes byte-identical predictions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from models_fixtures import build_hf_chinese_clip, chunk_files, make_retrieval_split

from muge_eval.cli.main import main

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """(checkpoint, data, predictions of an uninterrupted run)."""
    base = tmp_path_factory.mktemp("resume")
    model = build_hf_chinese_clip(base / "ckpt")
    data = make_retrieval_split(base / "data", n_images=64, n_queries=24)
    code, output = run(model, data, base / "reference", base / "ref-cache")
    assert code == 0, output
    return model, data, (base / "reference" / "predictions.jsonl").read_bytes()


def cli_args(
    model: Path, data: Path, out: Path, cache: Path, adapter: str = "hf-chinese-clip", extra_args: str = ""
) -> list[str]:
    return [
        *("run", "--task", "muge-retrieval", "--data-dir", str(data), "--split", "valid"),
        *("--model", adapter, "--model-name", "tiny", "--model-args", f"model={model},device=cpu{extra_args}"),
        *("--output-dir", str(out), "--cache-dir", str(cache), "--batch-size", "4", "--chunk-size", "8"),
        *("--num-workers", "0"),
    ]


def run(model: Path, data: Path, out: Path, cache: Path, *extra: str, quiet: bool = True) -> tuple[int, str]:
    args = (["--quiet"] if quiet else []) + cli_args(model, data, out, cache) + list(extra)
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout + result.stderr


def test_second_run_encodes_nothing(setup: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    model, data, reference = setup
    cache = tmp_path / "cache"
    assert run(model, data, tmp_path / "a", cache)[0] == 0
    stamps = {p: p.stat().st_mtime_ns for p in (cache / "embeddings").rglob("chunk-*.npz")}
    assert (
        len(chunk_files(cache / "embeddings", "images")) == 8 and len(chunk_files(cache / "embeddings", "texts")) == 3
    )
    code, output = run(model, data, tmp_path / "b", cache, quiet=False)
    assert code == 0
    assert "reused 11 chunk(s), encoded 0" in output
    assert stamps == {p: p.stat().st_mtime_ns for p in (cache / "embeddings").rglob("chunk-*.npz")}
    assert (tmp_path / "b" / "predictions.jsonl").read_bytes() == reference


def test_crash_then_resume_is_byte_identical(setup: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    model, data, reference = setup
    cache = tmp_path / "cache"
    crashing = cli_args(
        model, data, tmp_path / "crashed", cache, "models_fixtures:CrashingHFChineseCLIP", ",crash_after=5"
    )
    result = CliRunner().invoke(main, ["--quiet", *crashing])
    assert result.exit_code != 0
    assert not (tmp_path / "crashed" / "results.json").exists()
    assert len(chunk_files(cache / "embeddings", "images")) == 2  # 5 batches of 4 = two whole chunks of 8
    # A damaged chunk counts as absent and is encoded again.
    chunk_files(cache / "embeddings", "images")[1].write_bytes(b"not an npz")
    code, output = run(model, data, tmp_path / "resumed", cache, quiet=False)
    assert code == 0, output
    assert "reused 4 chunk(s), encoded 7" in output  # 3 text chunks + 1 image chunk reused
    assert (tmp_path / "resumed" / "predictions.jsonl").read_bytes() == reference


def test_cache_key_follows_preprocessing(setup: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    model, data, _ = setup
    cache = tmp_path / "cache"
    assert run(model, data, tmp_path / "a", cache)[0] == 0
    args = cli_args(model, data, tmp_path / "b", cache, extra_args=",preprocess=processor")
    result = CliRunner().invoke(main, ["--quiet", *args])
    assert result.exit_code == 0, result.output
    assert len(list((cache / "embeddings").glob("*/manifest.json"))) == 4  # texts and images, twice


def test_sigkill_mid_run_then_resume_is_byte_identical(setup: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    model, data, reference = setup
    cache = tmp_path / "cache"
    args = cli_args(model, data, tmp_path / "killed", cache, "models_fixtures:SlowHFChineseCLIP")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "muge_eval", "--quiet", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while len(chunk_files(cache / "embeddings", "images")) < 3:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "results.json").exists()
    done = len(chunk_files(cache / "embeddings", "images"))
    assert 3 <= done < 8
    code, output = run(model, data, tmp_path / "resumed", cache, quiet=False)
    assert code == 0, output
    assert f"reused {3 + done} chunk(s), encoded {8 - done}" in output
    assert (tmp_path / "resumed" / "predictions.jsonl").read_bytes() == reference
