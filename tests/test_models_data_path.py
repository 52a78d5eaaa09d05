"""The model data path end to end: parallel decoding, corrupt images, GPU-style top-k."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from models_fixtures import build_hf_chinese_clip, make_retrieval_split

from muge_eval.cli.main import main
from muge_eval.retrieval.ranking import exact_topk

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_chinese_clip(tmp_path_factory.mktemp("hf") / "ckpt")


def run(data: Path, out: Path, model: Path, *extra: str) -> tuple[int, str]:
    args = ["--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data), "--split", "valid"]
    args += ["--model", "hf-chinese-clip", "--model-args", f"model={model},device=cpu", "--output-dir", str(out)]
    result = CliRunner().invoke(main, [*args, "--batch-size", "8", "--chunk-size", "16", *extra])
    return result.exit_code, result.stdout + result.stderr


def test_workers_and_in_process_decoding_give_the_same_predictions(tmp_path: Path, hf_dir: Path) -> None:
    data = make_retrieval_split(tmp_path / "data")
    code, output = run(data, tmp_path / "w0", hf_dir, "--num-workers", "0", "--no-embedding-cache")
    assert code == 0, output
    code, output = run(data, tmp_path / "w2", hf_dir, "--num-workers", "2", "--no-embedding-cache")
    assert code == 0, output
    assert (tmp_path / "w0/predictions.jsonl").read_bytes() == (tmp_path / "w2/predictions.jsonl").read_bytes()
    results = json.loads((tmp_path / "w2/results.json").read_text())
    assert results["model"]["protocol"]["preprocess"] == "squash"
    assert results["model"]["protocol"]["context_length"] == 52
    assert {"decode_images_cpu_s", "model_images_s"} <= set(results["timings"])


def test_corrupt_images_fail_the_run_with_their_lines(tmp_path: Path, hf_dir: Path) -> None:
    data = make_retrieval_split(tmp_path / "data", bad_rows=(3, 17))
    code, output = run(data, tmp_path / "out", hf_dir, "--num-workers", "0", "--no-embedding-cache")
    assert code == 1
    assert "2 image(s) cannot be decoded" in output and "--skip-bad-images" in output
    assert "MR_valid_imgs.tsv:4: image: image 1003: cannot decode image" in output
    assert "MR_valid_imgs.tsv:18: image: image 1017" in output
    assert not (tmp_path / "out" / "results.json").exists()


def test_skip_bad_images_leaves_them_out_and_names_them(tmp_path: Path, hf_dir: Path) -> None:
    data = make_retrieval_split(tmp_path / "data", bad_rows=(3,))
    code, output = run(
        data, tmp_path / "out", hf_dir, "--num-workers", "1", "--skip-bad-images", "--no-embedding-cache"
    )
    assert code == 0, output
    results = json.loads((tmp_path / "out/results.json").read_text())
    assert results["protocol"]["skipped_images"] == [1003]
    assert results["dataset"]["num_items"]["bad_images"] == 1
    assert results["run_config"]["skip_bad_images"] is True
    assert any("image 1003" in note for note in results["notes"])
    predicted = {
        i
        for line in (tmp_path / "out/predictions.jsonl").read_text().splitlines()
        for i in json.loads(line)["item_ids"]
    }
    assert 1003 not in predicted


def test_torch_topk_equals_numpy_with_ties() -> None:
    rng = np.random.default_rng(0)
    pool = rng.integers(-2, 3, size=(300, 8)).astype(np.float32)  # many exact ties
    pool[100:140] = pool[5]  # whole blocks of identical rows
    queries = np.vstack([rng.integers(-2, 3, size=(40, 8)).astype(np.float32), pool[[5, 7]]])
    for k in (1, 10):
        expected = exact_topk(queries, pool, k, "numpy")
        got = exact_topk(queries, pool, k, "torch", device="cpu")
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.scores, expected.scores)
    small = exact_topk(queries, pool, 10, "torch", block_elements=500, device="cpu")
    np.testing.assert_array_equal(small.indices, exact_topk(queries, pool, 10, "numpy").indices)


def test_random_baseline_run_never_imports_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from muge_eval.cli.main import main\n"
        f"r = CliRunner().invoke(main, ['-q', 'run', '--task', 'muge-retrieval-sample', '--model', 'random',"
        f" '--output-dir', {str(tmp_path)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "predictions.jsonl").is_file()
