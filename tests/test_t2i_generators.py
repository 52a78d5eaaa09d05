"""Generator adapters, the resumable image store and `muge-eval run` on the t2i task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from t2i_helpers import tiny_pipeline, write_dataset, write_submission

from muge_eval.cli.main import main
from muge_eval.errors import UsageError
from muge_eval.models.base import GENERATION
from muge_eval.plugins import build_registries
from muge_eval.progress import Progress
from muge_eval.specs import RunConfig
from muge_eval.t2i.adapters.base import GeneratorAdapter, item_seed
from muge_eval.t2i.adapters.procedural import ProceduralGenerator, named_colour
from muge_eval.t2i.submission import read_submission
from muge_eval.tasktypes.loading import load_task

NO_WEIGHTS_ENV = {"MUGE_EVAL_INCEPTION_WEIGHTS": ""}


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUGE_EVAL_CACHE", str(tmp_path / "muge-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("MUGE_EVAL_INCEPTION_WEIGHTS", raising=False)


def test_procedural_is_deterministic_and_uses_the_named_colour() -> None:
    gen = ProceduralGenerator(size=64)
    a = gen.generate(["红色连衣裙", "蓝色帽子"], [1, 2])
    b = gen.generate(["红色连衣裙"], [1])
    assert a[0].tobytes() == b[0].tobytes() and a[0].size == (64, 64)
    assert a[0].tobytes() != gen.generate(["红色连衣裙"], [3])[0].tobytes()
    assert named_colour("新款蓝色的红色") == named_colour("蓝") != named_colour("红")
    assert item_seed(1, "a") == item_seed(1, "a") != item_seed(2, "a")


class Flaky(GeneratorAdapter):
    """Fails after ``fail_after`` images, like a run killed half way."""

    def __init__(self, fail_after: int | None = None):
        self.fail_after = fail_after
        self.calls: list[str] = []
        self.inner = ProceduralGenerator(size=32)

    def fingerprint(self) -> str | None:
        return "flaky-v1"

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        if self.fail_after is not None and len(self.calls) + len(prompts) > self.fail_after:
            raise KeyboardInterrupt
        self.calls.extend(prompts)
        return self.inner.generate(prompts, seeds)


def test_generation_resumes_after_a_killed_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = write_dataset(data, 6)
    task = load_task(build_registries(), "muge-t2i", {"generation_dir": str(tmp_path / "gen")})
    config = RunConfig(split="valid", batch_size=2, data_dir=data)
    killed = Flaky(fail_after=4)
    with pytest.raises(KeyboardInterrupt):
        task.evaluate(killed, config, Progress(quiet=True))
    assert len(list((tmp_path / "gen").rglob("*.png"))) == 4
    resumed = Flaky()
    outcome = task.evaluate(resumed, config, Progress(quiet=True))
    assert len(resumed.calls) == 2  # only the two images the killed run did not write
    assert any("4 image(s) reused" in n for n in outcome.notes)
    assert any("not 256x256 (6 at 32x32)" in n for n in outcome.notes)  # muge-t2i expects 256x256
    out = tmp_path / "predictions.tsv"
    outcome.predictions[0].write(out)
    submission = read_submission(out, tuple(ids), (32, 32))
    assert list(submission.entries) == ids
    # Another seed is another key: everything is generated again.
    fresh = Flaky()
    task.evaluate(fresh, RunConfig(split="valid", batch_size=2, data_dir=data, seed=7), Progress(quiet=True))
    assert len(fresh.calls) == 6


def test_generator_returning_wrong_count_is_a_usage_error(tmp_path: Path) -> None:
    class Short(Flaky):
        def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
            return super().generate(prompts, seeds)[:-1]

    data = tmp_path / "data"
    write_dataset(data, 3)
    task = load_task(build_registries(), "muge-t2i", {"generation_dir": str(tmp_path / "gen")})
    with pytest.raises(UsageError, match="returned 2 objects for 3 prompts"):
        task.evaluate(Short(), RunConfig(split="valid", data_dir=data), Progress(quiet=True))


def test_run_sample_task_with_procedural_and_random_judge(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "--quiet",
            "run",
            "--task",
            "muge-t2i-sample",
            "--model",
            "procedural",
            "--judge",
            "random",
            "--output-dir",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--log-samples",
        ],
        env=NO_WEIGHTS_ENV,
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    assert set(document["metrics"]) == {"clip_score", "r_precision", "cmmd"}
    assert document["protocol"]["judge"]["model"]["adapter"] == "random"
    assert document["main_metric"] is None  # FID needs the weights
    assert any("pt_inception-2015-12-05-6726825d.pth" in n for n in document["notes"])
    sample_ids = [
        line.split("\t")[0]
        for line in (Path(__file__).resolve().parents[1] / "tasks" / "muge-t2i-sample" / "T2I_valid.text.tsv")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert list(read_submission(out / "predictions.tsv", tuple(sample_ids), (256, 256)).entries) == sample_ids
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(samples) == 40 and {"img_id", "description", "clip_score", "r_precision_hit"} <= set(samples[0])


def test_unknown_judge_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--task",
            "muge-t2i-sample",
            "--model",
            "procedural",
            "--judge",
            "randm",
            "--output-dir",
            str(tmp_path / "run"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        env=NO_WEIGHTS_ENV,
    )
    assert result.exit_code == 2 and "random" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "results.json").exists()


def test_predictions_adapter_scores_existing_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = write_dataset(data, 4)
    sub = write_submission(tmp_path / "sub.tsv", ids)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "--quiet",
            "run",
            "--task",
            "muge-t2i",
            "--data-dir",
            str(data),
            "--model",
            "predictions",
            "--model-args",
            f"path={sub}",
            "--judge",
            "random",
            "--output-dir",
            str(out),
        ],
        env=NO_WEIGHTS_ENV,
    )
    assert result.exit_code == 0, result.output
    written = read_submission(out / "predictions.tsv", tuple(ids), None)
    original = read_submission(sub, tuple(ids), None)
    assert all(written.raw_bytes(i) == original.raw_bytes(i) for i in ids)
    short = write_submission(tmp_path / "short.tsv", ids[:2])
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--task",
            "muge-t2i",
            "--data-dir",
            str(data),
            "--model",
            "predictions",
            "--model-args",
            f"path={short}",
            "--output-dir",
            str(tmp_path / "r2"),
        ],
    )
    assert result.exit_code == 1 and "have no image" in result.output


# --- diffusers: a tiny pipeline built from small configs --------------------------


def test_diffusers_tiny_pipeline_generates_seeded_images(tmp_path: Path) -> None:
    from muge_eval.t2i.adapters.diffusers_pipeline import DiffusersGenerator

    path = tiny_pipeline(tmp_path / "tiny")
    gen = DiffusersGenerator(str(path), steps=2, height=16, width=16, device="cpu")
    assert GENERATION in gen.capabilities and gen.fingerprint().startswith("sha256:")  # type: ignore[union-attr]
    batch = gen.generate(["红色帽子", "蓝色连衣裙"], [1, 2])
    alone = gen.generate(["蓝色连衣裙"], [2])
    assert [im.size for im in batch] == [(16, 16), (16, 16)]
    diff = max(abs(a - b) for a, b in zip(batch[1].tobytes(), alone[0].tobytes(), strict=True))
    assert diff <= 2  # the image depends on its own seed, not on its batch
    assert gen.protocol()["steps"] == 2 and gen.protocol()["pipeline"] == "StableDiffusionPipeline"
    with pytest.raises(UsageError, match="cannot load pipeline"):
        DiffusersGenerator(str(tmp_path / "nowhere" / "pipe-not-there"), device="cpu")
