"""`torchrun --nproc-per-node 2 -m muge_eval run` on a caption task: two CPU processes on
gloo caption their shares of the batches into the caption cache, rank 0 merges, and the
CLIP judge's encoding is shared too; the files are those of a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from caption_helpers import make_tiny_vlm, write_muge_split

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


def judge_files(directory: Path, ids: list[str]) -> str:
    """Features for the `features` judge: images and captions by id (any caption text)."""
    images = [{"image_id": i, "feature": [1.0, float(n), 0.5]} for n, i in enumerate(ids)]
    texts = [{"text_id": f"caption:{i}", "feature": [1.0, 0.0, float(n)]} for n, i in enumerate(ids)]
    texts += [{"text_id": f"reference:{i}:{k}", "feature": [1.0, float(k), 1.0]} for i in ids for k in range(3)]
    for name, lines in (("images.jsonl", images), ("texts.jsonl", texts)):
        (directory / name).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return f"image_features={directory / 'images.jsonl'},text_features={directory / 'texts.jsonl'}"


def command(model: Path, data: Path, out: Path, judge_args: str) -> list[str]:
    return [
        *("-m", "muge_eval", "--quiet", "run", "--task", "muge-caption", "--data-dir", str(data)),
        *("--model", "hf-vlm", "--model-args", f"model={model},device=cpu,max_new_tokens=6"),
        *("--model-name", "tiny-vlm", "--output-dir", str(out), "--batch-size", "2", "--chunk-size", "4"),
        *("--judge", "features", "--judge-args", judge_args, "--log-samples"),
        *("--cache-dir", str(out.parent / f"{out.name}-cache")),
    ]


@pytest.mark.slow
def test_two_gloo_processes_caption_like_one(tmp_path: Path) -> None:
    model = make_tiny_vlm(tmp_path / "ckpt")
    ids = write_muge_split(tmp_path / "data", None, count=9)
    judge_args = judge_files(tmp_path, ids)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MUGE_EVAL_DIST_BACKEND": "gloo"}
    single = subprocess.run(
        [sys.executable, *command(model, tmp_path / "data", tmp_path / "one", judge_args)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    spread = subprocess.run(
        [*launcher, *command(model, tmp_path / "data", tmp_path / "two", judge_args)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert spread.returncode == 0, spread.stderr[-3000:]
    one, two = tmp_path / "one", tmp_path / "two"
    assert (one / "predictions.jsonl").read_bytes() == (two / "predictions.jsonl").read_bytes()
    assert (one / "samples.jsonl").read_bytes() == (two / "samples.jsonl").read_bytes()
    first, second = (json.loads((d / "results.json").read_text()) for d in (one, two))
    for key in ("metrics", "protocol", "dataset", "model", "task", "main_metric", "diagnostics"):
        assert first[key] == second[key], key
    assert "clip_s" in second["metrics"]
    assert spread.stdout.count("results:") == 1
    # Both ranks' shards were merged into one cache file, and removed.
    captions = tmp_path / "two-cache" / "captions"
    files = sorted(p.name for p in captions.iterdir())
    assert len(files) == 1 and ".rank" not in files[0]
    assert len((captions / files[0]).read_text(encoding="utf-8").splitlines()) == 1 + 9
