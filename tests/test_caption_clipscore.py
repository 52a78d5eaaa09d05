"""CLIP-S and RefCLIP-S against closed-form values, judged by the `features` adapter (the
judge's embeddings given by id), through `muge-eval score` and `muge-eval run`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from caption_helpers import write_muge_split
from click.testing import CliRunner

from muge_eval.caption.clipscore import clip_s, harmonic_mean, ref_clip_s
from muge_eval.cli.main import main


def unit(angle_degrees: float) -> list[float]:
    a = math.radians(angle_degrees)
    return [math.cos(a), math.sin(a), 0.0]


def test_formulas_on_known_angles() -> None:
    images = np.array([unit(0), unit(0), unit(0)])
    captions = np.array([unit(60), unit(120), [0.0, 0.0, 3.0]])  # cos 0.5, -0.5, 0
    assert clip_s(captions, images).tolist() == pytest.approx([1.25, 0.0, 0.0])
    references = np.array([unit(60), unit(150), unit(0)])  # cos with caption 0: 1.0 and 0.5; caption 1: 0.5
    ref = ref_clip_s(clip_s(captions, images), captions, references, [0, 0, 1])
    assert ref[0] == pytest.approx(2 * 1.25 * 1.0 / 2.25)
    assert ref[1] == 0.0  # CLIP-S 0: the harmonic mean is 0
    assert ref[2] == 0.0  # no reference for image 2: nothing to be close to
    assert harmonic_mean(np.array([0.0]), np.array([0.0])).tolist() == [0.0]


@pytest.fixture
def judged_split(tmp_path: Path) -> dict:
    """A 3-image split, its references, and feature files with known cosines."""
    references = {"a" * 32: ["红色连衣裙", "红裙"], "b" * 32: ["蓝色帽子"], "c" * 32: ["黑色台灯", "台灯"]}
    ids = write_muge_split(tmp_path / "data", references)
    # image i along x; caption angles 60, 0 and 100 degrees (cos 0.5, 1, <0); references at
    # angles giving the best reference cosines 1.0, cos(30), and (all negative) 0.
    caption_angles = {ids[0]: 60, ids[1]: 0, ids[2]: 100}
    reference_angles = {ids[0]: [60, 200], ids[1]: [30], ids[2]: [280, 250]}
    image_lines = [{"image_id": i, "feature": unit(0)} for i in ids]
    text_lines = [{"text_id": f"caption:{i}", "feature": unit(a)} for i, a in caption_angles.items()]
    text_lines += [
        {"text_id": f"reference:{i}:{k}", "feature": unit(a)} for i, angles in reference_angles.items()
        for k, a in enumerate(angles)
    ]  # fmt: skip
    for name, lines in (("images.jsonl", image_lines), ("texts.jsonl", text_lines)):
        (tmp_path / name).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(
        "".join(json.dumps({"image_id": i, "text": "红色连衣裙"}, ensure_ascii=False) + "\n" for i in ids),
        encoding="utf-8",
    )
    clip = [100 * 2.5 * 0.5, 100 * 2.5 * 1.0, 0.0]
    best = [1.0, math.cos(math.radians(30)), 0.0]
    ref = [100 * 2 * (c / 100) * b / (c / 100 + b) if c else 0.0 for c, b in zip(clip, best, strict=True)]
    return {
        "dir": tmp_path,
        "ids": ids,
        "args": f"image_features={tmp_path / 'images.jsonl'},text_features={tmp_path / 'texts.jsonl'}",
        "predictions": predictions,
        "clip": clip,
        "ref": ref,
    }


def check_document(document: dict, split: dict) -> None:
    assert document["metrics"]["clip_s"] == pytest.approx(sum(split["clip"]) / 3)
    assert document["metrics"]["ref_clip_s"] == pytest.approx(sum(split["ref"]) / 3)
    assert document["metric_info"]["clip_s"]["aggregation"] == "mean"
    judge = document["protocol"]["clip_judge"]
    assert judge["model"]["adapter"] == "features" and judge["model"]["fingerprint"].startswith("sha256:")
    assert "cider_d" in document["metrics"]  # the n-gram metrics are still there


def test_score_with_a_judge_gives_closed_form_values(judged_split: dict) -> None:
    out = judged_split["dir"] / "scored.json"
    result = CliRunner().invoke(
        main,
        ["score", "--task", "muge-caption", "--gold", str(judged_split["dir"] / "data" / "IC_valid.jsonl"),
         "--predictions", str(judged_split["predictions"]), "--judge", "features",
         "--judge-args", judged_split["args"], "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    check_document(json.loads(out.read_text()), judged_split)


def test_run_with_a_judge_stores_per_image_values(judged_split: dict) -> None:
    out = judged_split["dir"] / "run"
    result = CliRunner().invoke(
        main,
        ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(judged_split["dir"] / "data"),
         "--model", "caption_helpers:ColourCaptioner", "--judge", "features", "--judge-args", judged_split["args"],
         "--task-args", "caption_cache=off", "--output-dir", str(out), "--log-samples",
         "--cache-dir", str(judged_split["dir"] / "cache")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    check_document(document, judged_split)
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["clip_s"] for s in samples] == pytest.approx(judged_split["clip"])
    assert [s["ref_clip_s"] for s in samples] == pytest.approx(judged_split["ref"])
    assert "clip_s" in result.output  # the end-of-run table, with its interval


def test_judge_metrics_need_a_judge(judged_split: dict) -> None:
    result = CliRunner().invoke(
        main,
        ["score", "--task", "muge-caption", "--gold", str(judged_split["dir"] / "data" / "IC_valid.jsonl"),
         "--predictions", str(judged_split["predictions"]), "--metrics", "cider_d,clip_s"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "clip_s needs a judge model: pass --judge" in result.output
