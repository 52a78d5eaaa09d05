"""``--pool-extra PATH``: distractor images from a MUGE-layout TSV or a directory join the
retrieval pool, are recorded in the protocol and the dataset fingerprint, and an id that
is already one of the task's images is a clear error."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models_fixtures import make_retrieval_split, random_jpeg
from test_sharded_search import gloo_env

from muge_eval.errors import InputError
from muge_eval.retrieval.pool_extra import load_pool_extra


def run(data: Path, out: Path, *extra: str, model_args: str = "dim=6") -> subprocess.CompletedProcess[str]:
    args = [
        *("-m", "muge_eval", "--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data)),
        *("--split", "valid", "--model", "rank_test_adapters:PixelHash", "--model-args", model_args),
        *("--model-name", "pixel-hash", "--output-dir", str(out), "--batch-size", "4", "--num-workers", "0"),
        *("--cache-dir", str(out.parent / "cache")),
        *extra,
    ]
    return subprocess.run([sys.executable, *args], env=gloo_env(), capture_output=True, text=True, timeout=120)


def image_directory(directory: Path, count: int) -> Path:
    rng = np.random.default_rng(5)
    for i in range(count):
        sub = directory / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"shot{i:02d}.jpg").write_bytes(random_jpeg(rng, 48, 40))
    (directory / "notes.txt").write_text("not an image", encoding="utf-8")
    return directory


def test_directory_distractors_join_the_pool_and_the_record(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = make_retrieval_split(tmp_path / "data", n_images=12, n_queries=6)
    extra = image_directory(tmp_path / "catalogue", 9)
    plain = run(data, tmp_path / "plain")
    widened = run(data, tmp_path / "widened", "--pool-extra", str(extra))
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert widened.returncode == 0, widened.stderr[-2000:]
    before, after = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("plain", "widened"))
    assert "pool_extra" not in before["protocol"]
    assert after["protocol"]["pool_extra"]["format"] == "image-directory"
    assert after["protocol"]["pool_extra"]["images"] == 9
    assert after["dataset"]["fingerprint"] != before["dataset"]["fingerprint"]
    assert after["dataset"]["num_items"]["pool_extra_images"] == 9
    # Directory images are numbered after the task's largest id (1011), in path order, and
    # ids.tsv names their files.
    names = (tmp_path / "widened" / "ids.tsv").read_text(encoding="utf-8")
    assert "1012\ta/shot01.jpg" in names and "1020\tb/shot08.jpg" in names
    lines = (tmp_path / "widened" / "predictions.jsonl").read_text().splitlines()
    ranked = {i for line in lines for i in json.loads(line)["item_ids"]}
    assert ranked & set(range(1012, 1021))  # distractors compete for the top 10


def test_a_distractor_id_of_the_task_is_an_error_naming_its_line(tmp_path: Path) -> None:
    data = make_retrieval_split(tmp_path / "data", n_images=12, n_queries=6)
    rng = np.random.default_rng(1)
    image = base64.b64encode(random_jpeg(rng, 32, 32)).decode()
    extra = tmp_path / "extra.tsv"
    extra.write_text(f"5000\t{image}\n1003\t{image}\n5001\t{image}\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_pool_extra(extra, list(range(1000, 1012)), tmp_path / "cache")
    (problem,) = raised.value.problems
    assert problem.line == 2 and "1003" in problem.message and problem.file == str(extra)
    done = run(data, tmp_path / "out", "--pool-extra", str(extra))
    assert done.returncode == 1
    assert "extra.tsv:2: id: image id" in done.stderr and "1003 is already in the task's pool" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_missing_pool_extra_fails_before_the_model_loads(tmp_path: Path) -> None:
    data = make_retrieval_split(tmp_path / "data", n_images=12, n_queries=6)
    # dim=0 would fail when the model is built: the missing path is found first.
    done = run(data, tmp_path / "out", "--pool-extra", str(tmp_path / "nowhere.tsv"), model_args="dim=0")
    assert done.returncode == 1, done.stderr
    assert "nowhere.tsv" in done.stderr and "not found" in done.stderr
