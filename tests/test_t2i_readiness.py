"""Every input of a selected metric is checked before the first image is generated: a
metric asked for by name without its input, and an input given but wrong, fail at once;
a card's metric without its input is skipped with a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from t2i_helpers import write_dataset

from muge_eval.cli.main import main
from muge_eval.errors import InputError, UsageError
from muge_eval.plugins import build_registries
from muge_eval.progress import Progress
from muge_eval.specs import RunConfig
from muge_eval.t2i.adapters.base import GeneratorAdapter
from muge_eval.t2i.adapters.procedural import ProceduralGenerator
from muge_eval.t2i.metrics import t2i_metric_specs
from muge_eval.tasktypes.loading import load_task


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUGE_EVAL_CACHE", str(tmp_path / "muge-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in ("MUGE_EVAL_INCEPTION_WEIGHTS", "MUGE_EVAL_DINOV2_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)


class Recording(GeneratorAdapter):
    """Counts the prompts it is asked to draw."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.inner = ProceduralGenerator(size=16)

    def fingerprint(self) -> str | None:
        return "recording-v1"

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        self.calls.extend(prompts)
        return self.inner.generate(prompts, seeds)


def _evaluate(tmp_path: Path, options: dict[str, str], real: bool = True) -> None:
    """Evaluate a generator that must never be asked for an image (the run fails first)."""
    data = tmp_path / "data"
    write_dataset(data, 6, size=16)
    if not real:
        (data / "T2I_valid.img.tsv").unlink()
    task = load_task(build_registries(), "muge-t2i", {"generation_dir": str(tmp_path / "gen"), **options})
    model = Recording()
    try:
        task.evaluate(model, RunConfig(split="valid", batch_size=2, data_dir=data), Progress(quiet=True))
    finally:
        assert model.calls == []


def test_every_new_metric_is_a_registered_spec() -> None:
    names = {spec.name for spec in t2i_metric_specs()}
    new = {"kid", "kid_std", "fd_dinov2", "cmmd", "precision", "recall", "density", "coverage"}
    assert new <= names
    task = load_task(build_registries(), "muge-t2i", {})
    assert new <= set(task.selected_metrics) and task.main_metric == "fid"


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("fid", "FID Inception weights"),
        ("kid", "FID Inception weights"),
        ("fd_dinov2", "DINOv2 ViT-L/14 weights"),
        ("cmmd", "judge"),
        ("clip_score,precision", "judge: pass --judge"),
    ],
)
def test_a_metric_asked_for_without_its_input_fails_before_generation(
    tmp_path: Path, metrics: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        _evaluate(tmp_path, {"metrics": metrics})


def test_cmmd_asked_for_without_real_images_fails_before_generation(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no real images"):
        _evaluate(tmp_path, {"metrics": "cmmd", "judge": "random"}, real=False)


def test_wrong_inputs_fail_before_generation(tmp_path: Path) -> None:
    weights = tmp_path / "not-inception.pth"
    torch.save({"x": torch.zeros(1)}, weights)
    # Not the published file, and no consent.
    with pytest.raises(InputError, match="does not begin with 6726825d"):
        _evaluate(tmp_path, {"inception_weights": str(weights)})
    # Consent, but the file does not fit the network: found when it is loaded, still
    # before generation.
    with pytest.raises(InputError, match="does not fit the FID Inception network"):
        _evaluate(tmp_path, {"inception_weights": str(weights), "allow_nonstandard_weights": "true"})
    with pytest.raises(UsageError, match="is not a file"):
        _evaluate(tmp_path, {"inception_weights": str(tmp_path / "missing.pth")})
    broken = tmp_path / "dinov2-without-weights"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "dinov2", "hidden_size": 1024}', encoding="utf-8")
    with pytest.raises(InputError, match="cannot load a Dinov2Model"):
        _evaluate(tmp_path, {"dinov2_weights": str(broken), "allow_nonstandard_weights": "true"})
    with pytest.raises(UsageError, match="random"):
        _evaluate(tmp_path, {"judge": "randm"})
    with pytest.raises(UsageError, match="dimm"):
        _evaluate(tmp_path, {"judge": "random", "judge_args": "dimm=3"})


def test_card_metrics_without_inputs_are_skipped_with_notes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            *("--quiet", "run", "--task", "muge-t2i-sample", "--model", "procedural", "--judge", "random"),
            *("--output-dir", str(out), "--cache-dir", str(tmp_path / "cache"), "--limit", "12"),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(document["metrics"]) == ["clip_score", "r_precision", "cmmd"]
    assert document["metric_info"]["cmmd"]["higher_is_better"] is False
    notes = " ".join(document["notes"])
    assert "kid, kid_std, precision, recall, density, coverage" in notes and "fd_dinov2 needs DINOv2" in notes
    # The explicit request for a metric without its input is a usage error, and nothing is written.
    refused = CliRunner().invoke(
        main,
        [
            *("run", "--task", "muge-t2i-sample", "--model", "procedural", "--metrics", "fid,cmmd"),
            *("--judge", "random", "--output-dir", str(tmp_path / "r2"), "--cache-dir", str(tmp_path / "cache")),
        ],
    )
    assert refused.exit_code == 2 and "fid needs the FID Inception weights" in refused.output
    assert not (tmp_path / "r2").exists()
