"""Zero-shot classification end to end: `muge-eval run/score/validate` on the bundled
sample and on data made here, with the random, features and torch adapters, the Python
API, and the checks on cards and submissions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from classification_helpers import SAMPLE, make_image_folder, reference_metrics, sample_labels, write_card
from click.testing import CliRunner
from retrieval_helpers import write_jsonl

import muge_eval
from muge_eval.cli.main import main
from muge_eval.errors import InputError
from muge_eval.metrics.persample import SampleValues, sample_values
from muge_eval.results import read_results


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def predictions_of(path: Path) -> dict[str, list[int]]:
    return {str(p["image_id"]): list(p["labels"]) for p in read_jsonl(path)}  # type: ignore[call-overload]


def test_random_run_on_the_bundled_sample_then_score_and_validate(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stdout, err = invoke(
        "run", "--task", "classification-sample", "--model", "random", "--output-dir", str(out), "--log-samples"
    )
    assert code == 0, err
    document = read_results(out / "results.json")
    assert document["task"]["type"] == "classification" and document["main_metric"] == "top1"
    assert document["dataset"]["num_items"] == {"images": 80, "classes": 10}
    assert document["dataset"]["source"] == "bundled:classification-sample"
    assert document["files"] == {"predictions_image_to_class": "predictions.jsonl", "samples": "samples.jsonl"}
    assert document["protocol"]["prompts"]["templates"] == ["一张{}的照片。", "{}的图片", "一个{}。"]
    assert document["protocol"]["tie_rule"] == "score descending, then class index ascending"
    predictions = predictions_of(out / "predictions.jsonl")
    expected = reference_metrics(sample_labels(), predictions)
    assert document["metrics"] == pytest.approx(expected, rel=1e-12)
    # Uneven classes: mean per-class recall is not top-1 here.
    assert document["metrics"]["mean_per_class_recall"] != document["metrics"]["top1"]
    # Every metric gets an interval from the samples (the board's check).
    samples = read_jsonl(out / "samples.jsonl")
    for name, value in document["metrics"].items():
        found = sample_values(document["metric_info"][name], value, samples, "image_id")
        assert isinstance(found, SampleValues), (name, found)
    assert "top1" in stdout and "mean_per_class_recall" in stdout
    # The run's predictions are a valid submission and score to the same numbers.
    code, stdout, err = invoke("validate", "--task", "classification-sample", str(out / "predictions.jsonl"))
    assert code == 0 and "valid submission" in stdout, err
    code, _, err = invoke(
        "score",
        "--task",
        "classification-sample",
        "--predictions",
        str(out / "predictions.jsonl"),
        "--output",
        str(tmp_path / "scored.json"),
    )
    assert code == 0, err
    scored = read_results(tmp_path / "scored.json")
    assert scored["metrics"] == document["metrics"]
    assert scored["metric_info"] == document["metric_info"]
    # The same run twice gives the same bytes (seeded random vectors by id).
    code, _, err = invoke(
        "run", "--task", "classification-sample", "--model", "random", "--output-dir", str(tmp_path / "b")
    )
    assert code == 0, err
    assert (tmp_path / "b" / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()


def test_python_api_equals_the_cli(tmp_path: Path) -> None:
    code, _, err = invoke("run", "--task", "classification-sample", "--model", "random", "--output-dir", str(tmp_path))
    assert code == 0, err
    cli = read_results(tmp_path / "results.json")
    api = muge_eval.evaluate("classification-sample", "random")
    assert api["metrics"] == cli["metrics"] and api["protocol"] == cli["protocol"]
    scored = muge_eval.score("classification-sample", tmp_path / "predictions.jsonl")
    assert scored["metrics"] == cli["metrics"]
    # A task option as a keyword: other templates, other prompts, other numbers for a model
    # that reads texts (random reads ids, so only the protocol changes).
    other = muge_eval.evaluate("classification-sample", "random", templates=["{}"])
    assert other["protocol"]["prompts"]["templates"] == ["{}"]


def test_features_adapter_with_crafted_embeddings(tmp_path: Path) -> None:
    names = [f"类别{c}" for c in range(10)]
    images = make_image_folder(tmp_path / "data", names, [3, 4, 2, 5, 3, 1, 2, 4, 3, 3])
    templates = ["一张{}的照片。", "{}"]
    card = write_card(tmp_path / "card.yaml", tmp_path / "data", templates)
    # Every prompt of class c embeds as a noisy e_c: the ensemble is e_c.
    rng = np.random.default_rng(0)
    texts = []
    for c in range(10):
        for t in range(len(templates)):
            vector = np.eye(10)[c] * 2.0 + (rng.standard_normal(10) * 1e-3 if t else 0)
            texts.append({"text_id": c * len(templates) + t, "feature": vector.tolist()})
    # Image i: its class first (i % 3 == 0), third (i % 3 == 1) or last (i % 3 == 2); every
    # 7th image a zero vector, so all classes tie and the lowest indices win.
    expected: dict[str, list[int]] = {}
    rows = []
    for position, (image_id, label) in enumerate(images):
        others = [c for c in range(10) if c != label]
        order = {0: [label, *others], 1: [*others[:2], label, *others[2:]], 2: [*others, label]}[position % 3]
        scores = np.zeros(10)
        if position % 7 != 6:
            for rank, c in enumerate(order):
                scores[c] = 10 - rank
        else:
            order = list(range(10))
        rows.append({"image_id": position, "feature": scores.tolist()})
        expected[image_id] = order[:5]
    write_jsonl(tmp_path / "img.jsonl", rows)
    write_jsonl(tmp_path / "txt.jsonl", texts)
    code, _, err = invoke(
        "run",
        "--task",
        str(card),
        "--model",
        "features",
        "--model-args",
        f"image_features={tmp_path / 'img.jsonl'},text_features={tmp_path / 'txt.jsonl'}",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    got = predictions_of(tmp_path / "out" / "predictions.jsonl")
    assert got == expected
    labels = dict(images)
    metrics = read_results(tmp_path / "out" / "results.json")["metrics"]
    assert metrics == pytest.approx(reference_metrics(labels, expected), rel=1e-12)
    hits1 = sum(1 for n, (i, label) in enumerate(images) if expected[i][0] == label)
    assert metrics["top1"] == pytest.approx(100 * hits1 / len(images))


def test_torch_adapters_run_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models_fixtures import build_cn_clip, build_hf_chinese_clip, build_open_clip

    from muge_eval.classification.prompts import CHINESE_CLIP, build_prompts, ensemble_classifier
    from muge_eval.models.base import RetrievalAdapter
    from muge_eval.models.factory import ModelRequest, build_adapter
    from muge_eval.plugins import build_registries

    hf = build_hf_chinese_clip(tmp_path / "hf")
    vision, text, checkpoint = build_cn_clip(tmp_path / "cn")
    config, open_checkpoint = build_open_clip(tmp_path / "open")
    models = {
        "hf-chinese-clip": {"model": str(hf), "device": "cpu"},
        "cn-clip": {"checkpoint": str(checkpoint), "vision_config": str(vision), "text_config": str(text)},
        "open-clip": {"model": "tiny-clip", "pretrained": str(open_checkpoint), "model_config": str(config)},
    }
    labels = sample_labels()
    gold_names = (SAMPLE / "label_cn.txt").read_text(encoding="utf-8").split()
    templates = ["一张{}的照片。", "{}的图片", "一个{}。"]
    registries = build_registries()
    for name, args in models.items():
        result = muge_eval.evaluate(
            "classification-sample", name, model_args={**args, "device": "cpu"}, batch_size=16, num_workers=0
        )
        assert set(result["metrics"]) == {"top1", "top5", "mean_per_class_recall"}, name
        # The same numbers by hand: the adapter's own embeddings, the ensemble, a full sort.
        request = ModelRequest(name, {**args, "device": "cpu"})
        adapter, _ = build_adapter(registries, request, "retrieval", (RetrievalAdapter,))
        assert isinstance(adapter, RetrievalAdapter)
        prompts = build_prompts(gold_names, templates, CHINESE_CLIP)
        classifier = ensemble_classifier(adapter.encode_texts(list(prompts.texts)), prompts)
        transform = adapter.image_transform()
        assert transform is not None
        ids = sorted(labels)
        pixels = np.stack([transform((SAMPLE / "valid" / i).read_bytes()) for i in ids])
        features = adapter.encode_pixels(pixels).astype(np.float64)
        scores = features / np.linalg.norm(features, axis=1, keepdims=True) @ classifier.T
        ranked = [sorted(range(10), key=lambda c, row=row: (-row[c], c))[:5] for row in scores]
        by_hand = dict(zip(ids, ranked, strict=True))
        assert result["metrics"] == pytest.approx(reference_metrics(labels, by_hand), abs=1e-9), name


def test_limit_keeps_the_classes_whole(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run", "--task", "classification-sample", "--model", "random", "--limit", "12", "--output-dir", str(tmp_path)
    )
    assert code == 0, err
    document = read_results(tmp_path / "results.json")
    assert document["run_config"]["limit"] == 12
    assert document["dataset"]["num_items"] == {"images": 12, "classes": 10}
    predictions = predictions_of(tmp_path / "predictions.jsonl")
    assert list(predictions) == sorted(sample_labels())[:12]
    assert all(len(p) == 5 for p in predictions.values())


def _submission(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_validate_lists_every_problem_with_file_line_field(tmp_path: Path) -> None:
    ids = sorted(sample_labels())
    good = [json.dumps({"image_id": i, "labels": [0, 1, 2, 3, 4]}, ensure_ascii=False) for i in ids]
    path = _submission(tmp_path / "ok.jsonl", good)
    assert invoke("validate", "--task", "classification-sample", str(path))[0] == 0
    bad = [
        '{"image_id": "000/shape_001.jpg", "labels": [0, 1, 2, 3]}',
        '{"image_id": "000/shape_002.jpg", "labels": [0, 1, 2, 3, 10]}',
        '{"image_id": "000/shape_003.jpg", "labels": [0, 1, 1, 3, 4]}',
        '{"image_id": "000/shape_004.jpg", "labels": [0, 1, true, 3, 4.0]}',
        '{"image_id": "000/shape_005.jpg", "labels": "0,1,2,3,4"}',
        '{"image_id": 6, "labels": [0, 1, 2, 3, 4]}',
        '{"labels": [0, 1, 2, 3, 4]}',
        '{"image_id": "000/shape_006.jpg"}',
        "not json",
        "",
        "[1, 2]",
        '{"image_id": "000/shape_001.jpg", "labels": [0, 1, 2, 3, 4]}',
        '{"image_id": "elsewhere/x.jpg", "labels": [0, 1, 2, 3, 4]}',
        *good[8:],
    ]
    path = _submission(tmp_path / "bad.jsonl", bad)
    code, _, err = invoke("validate", "--task", "classification-sample", str(path))
    assert code == 1
    expected = [
        f"{path}:1: labels: must hold exactly 5 class indices, got 4",
        f"{path}:2: labels: class indices [10] are not in 0..9",
        f"{path}:3: labels: duplicate class indices [1]",
        f"{path}:4: labels: rank 3 is True, not an integer",
        f"{path}:4: labels: rank 5 is 4.0, not an integer",
        f"{path}:5: labels: must be a list, got str",
        f"{path}:6: image_id: must be a non-empty string",
        f"{path}:7: image_id: missing",
        f"{path}:8: labels: missing (image 000/shape_006.jpg)",
        f"{path}:9: not valid JSON",
        f"{path}:10: blank line",
        f"{path}:11: each line must be a JSON object",
        f"{path}:12: image_id: image 000/shape_001.jpg also on line 1",
        f"{path}: image_id: 3 gold images have no line: 000/shape_006.jpg, 000/shape_007.jpg, 000/shape_008.jpg",
    ]
    for message in expected:
        assert message in err, message
    assert "Traceback" not in err
    # An unknown image alone is ignored with a note when everything else is right.
    path = _submission(tmp_path / "extra.jsonl", [*good, bad[12]])
    scored = muge_eval.score("classification-sample", path)
    assert any("1 submitted images are not in the gold data" in n for n in scored["notes"])
    # Scoring needs the ImageFolder, not a gold file.
    code, _, err = invoke("score", "--task", "classification-sample", "--predictions", str(path), "--gold", str(path))
    assert code == 2 and "--data-dir" in err


def test_fewer_than_five_classes_rank_them_all(tmp_path: Path) -> None:
    images = make_image_folder(tmp_path / "data", ["猫", "狗", "鸟"], [2, 2, 1])
    card = write_card(tmp_path / "card.yaml", tmp_path / "data", ["{}"])
    code, _, err = invoke("run", "--task", str(card), "--model", "random", "--output-dir", str(tmp_path / "out"))
    assert code == 0, err
    predictions = predictions_of(tmp_path / "out" / "predictions.jsonl")
    assert all(sorted(p) == [0, 1, 2] for p in predictions.values())
    assert read_results(tmp_path / "out" / "results.json")["metrics"]["top5"] == 100.0
    too_many = _submission(
        tmp_path / "five.jsonl", [json.dumps({"image_id": i, "labels": [0, 1, 2, 3, 4]}) for i, _ in images]
    )
    code, _, err = invoke("validate", "--task", str(card), str(too_many))
    assert code == 1 and "must hold exactly 3 class indices, got 5" in err


def test_card_and_data_problems_are_clear(tmp_path: Path) -> None:
    make_image_folder(tmp_path / "data", ["猫", "狗"], [2, 2])
    bad_template = write_card(tmp_path / "t.yaml", tmp_path / "data", ["一张猫的照片", "{}"])
    code, _, err = invoke("run", "--task", str(bad_template), "--model", "random")
    assert code == 1 and "options.templates" in err and "'一张猫的照片'" in err
    no_templates = tmp_path / "none.yaml"
    no_templates.write_text(
        bad_template.read_text(encoding="utf-8").split("options:")[0] + "options:\n  label_file: label_cn.txt\n",
        encoding="utf-8",
    )
    code, _, err = invoke("run", "--task", str(no_templates), "--model", "random")
    assert code == 1 and "options.templates: required" in err
    # The user's templates are enough for a card without them.
    code, _, err = invoke(
        "run",
        "--task",
        str(no_templates),
        "--model",
        "random",
        "--task-args",
        "templates={}的照片",
        "--output-dir",
        str(tmp_path / "user"),
    )
    assert code == 0, err
    missing_labels = write_card(tmp_path / "m.yaml", tmp_path / "data", ["{}"], label_file="names.txt")
    code, _, err = invoke("run", "--task", str(missing_labels), "--model", "random")
    assert code == 1 and f"{tmp_path / 'data' / 'names.txt'}: label file not found" in err
    (tmp_path / "data" / "names.txt").write_text("猫\n狗\n鸟\n", encoding="utf-8")
    code, _, err = invoke("run", "--task", str(missing_labels), "--model", "random")
    assert code == 1 and "3 class names, but" in err and "has 2 class folders" in err
    code, _, err = invoke("validate", "--task", str(missing_labels), str(tmp_path / "x.jsonl"))
    assert code == 1 and "3 class names" in err
    hub = tmp_path / "hub.yaml"
    hub.write_text(
        "name: h\ntype: classification\ndata: {format: image-folder, source: hub, location: a/b}\n"
        "options: {templates: ['{}']}\n",
        encoding="utf-8",
    )
    code, _, err = invoke("run", "--task", str(hub), "--model", "random")
    assert code == 1 and "data.source" in err
    code, _, err = invoke("run", "--task", "imagenet-1k-cn", "--model", "random")
    assert code == 2 and "--data-dir" in err


def test_imagenet_card_carries_chinese_clip_templates() -> None:
    pytest.importorskip("cn_clip")
    from cn_clip.eval.cvinw_zeroshot_templates import openai_templates

    from muge_eval.plugins import build_registries
    from muge_eval.tasktypes.loading import load_task

    task = load_task(build_registries(), "imagenet-1k-cn")
    assert list(task.templates) == [t("{}") for t in openai_templates]
    assert len(task.templates) == 183 and task.card.splits == ("val",) and task.label_file == "label_cn.txt"
    assert task.main_metric == "top1"


def test_bad_images_fail_or_are_skipped_and_embeddings_are_cached(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models_fixtures import build_hf_chinese_clip, chunk_files

    model = build_hf_chinese_clip(tmp_path / "hf")
    images = make_image_folder(tmp_path / "data", ["猫", "狗", "鸟"], [4, 3, 3])
    broken = tmp_path / "data" / "valid" / images[4][0]
    broken.write_bytes(broken.read_bytes()[:40])
    card = write_card(tmp_path / "card.yaml", tmp_path / "data", ["一张{}的照片。", "{}"])
    cache = tmp_path / "cache"
    base = [
        *("run", "--task", str(card), "--model", "hf-chinese-clip", "--model-args", f"model={model},device=cpu"),
        *("--cache-dir", str(cache), "--batch-size", "4", "--chunk-size", "4"),
    ]
    code, _, err = invoke(*base, "--num-workers", "1", "--output-dir", str(tmp_path / "fail"))
    assert code == 1 and str(broken) in err and "--skip-bad-images" in err
    assert not (tmp_path / "fail" / "results.json").exists()
    code, _, err = invoke(*base, "--skip-bad-images", "--output-dir", str(tmp_path / "skip"))
    assert code == 0, err
    document = read_results(tmp_path / "skip" / "results.json")
    assert document["protocol"]["skipped_images"] == [images[4][0]]
    assert any("could not be decoded" in n for n in document["notes"])
    assert len(predictions_of(tmp_path / "skip" / "predictions.jsonl")) == 9
    # Cached: 6 prompts in 2 chunks, 10 images in 3; other templates encode new prompts.
    assert len(chunk_files(cache / "embeddings", "prompts")) == 2
    assert len(chunk_files(cache / "embeddings", "images")) == 3
    code, _, err = invoke(*base, "--skip-bad-images", "--output-dir", str(tmp_path / "again"))
    assert code == 0, err
    again = read_results(tmp_path / "again" / "results.json")
    assert again["metrics"] == document["metrics"]
    assert len(chunk_files(cache / "embeddings", "prompts")) == 2  # reused, nothing new
    assert len(chunk_files(cache / "embeddings", "images")) == 3
    code, _, err = invoke(
        *base, "--skip-bad-images", "--task-args", "templates={}的图片", "--output-dir", str(tmp_path / "other")
    )
    assert code == 0, err
    assert len(chunk_files(cache / "embeddings", "prompts")) == 3  # 3 new prompts, one new chunk


def test_installed_console_script_runs_the_bundled_sample(tmp_path: Path) -> None:
    script = shutil.which("muge-eval") or str(Path(sys.executable).parent / "muge-eval")
    if not Path(script).exists():
        pytest.skip("muge-eval is not installed in this environment (pip install . first)")
    run = subprocess.run(
        [
            script,
            "--quiet",
            "run",
            "--task",
            "classification-sample",
            "--model",
            "random",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert read_results(tmp_path / "results.json")["dataset"]["num_items"] == {"images": 80, "classes": 10}


def test_two_torchrun_processes_match_one(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import os

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "MUGE_EVAL_DIST_BACKEND": "gloo"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    run = [*("-m", "muge_eval", "--quiet", "run", "--task", "classification-sample", "--model", "random")]
    spread = subprocess.run(
        [*launcher, *run, "--chunk-size", "16", "--output-dir", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert spread.returncode == 0, spread.stderr[-3000:]
    assert spread.stdout.count("results:") == 1  # rank 0 alone reports
    code, _, err = invoke("run", "--task", "classification-sample", "--model", "random", "--output-dir", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "two" / "predictions.jsonl").read_bytes() == (tmp_path / "predictions.jsonl").read_bytes()
    two, one = read_results(tmp_path / "two" / "results.json"), read_results(tmp_path / "results.json")
    assert two["metrics"] == one["metrics"] and two["protocol"] == one["protocol"]


# The colours the bundled sample's generator draws with, by the character that names them.
SAMPLE_COLOURS = {
    "红": (205, 35, 40),
    "蓝": (35, 75, 195),
    "绿": (40, 150, 70),
    "黄": (230, 195, 30),
    "紫": (130, 50, 160),
    "橙": (240, 130, 30),
    "黑": (25, 25, 25),
    "粉": (240, 140, 180),
    "青": (30, 170, 180),
    "灰": (120, 120, 120),
}


class ColourCounter:
    """A duck-typed embedding model that knows the sample's ten colours: a prompt embeds as
    the one-hot of the colour it names, an image as the share of its pixels near each
    colour. It decodes images itself (no image_transform), through ``encode_images``."""

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        keys = list(SAMPLE_COLOURS)
        return np.array([[float(k in t) for k in keys] for t in texts], dtype=np.float32)

    def encode_images(self, images: list[object]) -> np.ndarray:
        palette = np.array(list(SAMPLE_COLOURS.values()), dtype=np.float32)
        rows = []
        for image in images:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32).reshape(-1, 1, 3)  # type: ignore[attr-defined]
            near = np.linalg.norm(pixels - palette[None], axis=2) < 40
            rows.append(near.mean(axis=0))
        return np.array(rows, dtype=np.float32)


def test_a_duck_typed_model_that_sees_colours_gets_every_image_right(tmp_path: Path) -> None:
    result = muge_eval.evaluate("classification-sample", ColourCounter())
    assert result["metrics"] == {"top1": 100.0, "top5": 100.0, "mean_per_class_recall": 100.0}
    # A corrupt file on this path (decoded by the adapter's encode_images) is named by path.
    shutil.copytree(SAMPLE, tmp_path / "data")
    broken = tmp_path / "data" / "valid" / "003" / "shape_028.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=str(broken)):
        muge_eval.evaluate("classification-sample", ColourCounter(), data_dir=tmp_path / "data")
