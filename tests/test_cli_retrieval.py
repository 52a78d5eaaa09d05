"""The CLI end to end: click's runner for every command and exit code, and the installed
console script as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from retrieval_helpers import make_split, official_scores, write_jsonl

from muge_eval.cli.main import main
from muge_eval.results import read_results

SAMPLE_QUERIES = Path(__file__).resolve().parents[1] / "tasks" / "muge-retrieval-sample" / "MR_valid_queries.jsonl"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_tasks_and_models_list_one_line_each() -> None:
    code, out, _ = invoke("tasks")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"muge-retrieval", "muge-retrieval-sample", "flickr30k-cn-retrieval", "coco-cn-retrieval"} <= set(names)
    code, out, _ = invoke("models")
    assert code == 0 and {"random", "features"} <= {line.split()[0] for line in out.splitlines()}


def test_help_has_examples() -> None:
    for command in ("run", "score", "validate", "tasks", "models"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
    assert "Example" in CliRunner().invoke(main, ["run", "--help"]).stdout


def test_run_on_the_bundled_sample_then_score_its_predictions(tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, _, err = invoke(
        "run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(out_dir), "--log-samples"
    )
    assert code == 0, err
    document = read_results(out_dir / "results.json")
    assert document["task"]["name"] == "muge-retrieval-sample"
    assert document["main_metric"] == "mean_recall"
    assert document["dataset"]["num_items"] == {"queries": 64, "images": 320}
    assert document["files"] == {"predictions_text_to_image": "predictions.jsonl", "samples": "samples.jsonl"}
    samples = [json.loads(line) for line in (out_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 64
    assert document["metrics"]["r1"] == pytest.approx(100 * np.mean([s["hit1"] for s in samples]))
    # The run's predictions are a valid submission and score to the same numbers.
    code, _out, err = invoke(
        "score",
        "--task",
        "muge-retrieval-sample",
        "--predictions",
        str(out_dir / "predictions.jsonl"),
        "--output",
        str(tmp_path / "scored.json"),
    )
    assert code == 0, err
    scored = read_results(tmp_path / "scored.json")
    assert scored["metrics"] == document["metrics"]
    gold = {json.loads(row)["query_id"]: json.loads(row)["item_ids"] for row in SAMPLE_QUERIES.read_text().splitlines()}
    preds = {
        json.loads(row)["query_id"]: json.loads(row)["item_ids"]
        for row in (out_dir / "predictions.jsonl").read_text().splitlines()
    }
    expected = official_scores(gold, preds)
    assert {k: scored["metrics"][k] for k in expected} == expected


def test_run_is_deterministic_and_seeded(tmp_path: Path) -> None:
    runs = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        code, _, err = invoke(
            "run",
            "--task",
            "muge-retrieval-sample",
            "--model",
            "random",
            "--seed",
            seed,
            "--batch-size",
            "7" if name == "b" else "64",
            "--output-dir",
            str(tmp_path / name),
        )
        assert code == 0, err
        runs.append((tmp_path / name / "predictions.jsonl").read_text())
    assert runs[0] == runs[1]  # batch size does not change anything
    assert runs[0] != runs[2]  # the seed does


def test_limit_is_recorded(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run", "--task", "muge-retrieval-sample", "--model", "random", "--limit", "5", "--output-dir", str(tmp_path)
    )
    assert code == 0, err
    document = read_results(tmp_path / "results.json")
    assert document["run_config"]["limit"] == 5
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 5


def test_tianchi_format_success_and_failure(tmp_path: Path) -> None:
    invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(tmp_path / "r"))
    code, _, _ = invoke(
        "score",
        "--task",
        "muge-retrieval-sample",
        "--gold",
        str(SAMPLE_QUERIES),
        "--predictions",
        str(tmp_path / "r" / "predictions.jsonl"),
        "--format",
        "tianchi",
        "--output",
        str(tmp_path / "t.json"),
    )
    assert code == 0
    ok = json.loads((tmp_path / "t.json").read_text())
    assert ok["success"] is True and set(ok["scoreJson"]) == {"score", "mean_recall", "r1", "r5", "r10"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query_id": "x", "item_ids": []}\n')
    code, _, _err = invoke(
        "score",
        "--task",
        "muge-retrieval-sample",
        "--predictions",
        str(bad),
        "--format",
        "tianchi",
        "--output",
        str(tmp_path / "f.json"),
    )
    assert code == 1
    failed = json.loads((tmp_path / "f.json").read_text())
    assert failed["success"] is False and failed["score"] == 0 and failed["scoreJson"] == {}
    assert "bad.jsonl:1: query_id" in failed["errorMsg"]


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query_id": 8000, "item_ids": [1, 2]}\nnot json\n', encoding="utf-8")
    code, out, err = invoke("validate", "--task", "muge-retrieval-sample", str(bad))
    assert code == 1
    assert "bad.jsonl:1: item_ids: must hold exactly 10 ids, got 2 (query 8000)" in err
    assert "bad.jsonl:2: not valid JSON" in err
    assert "63 gold queries have no line" in err
    assert "Traceback" not in err + out


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(tmp_path))
    code, out, _ = invoke("validate", "--task", "muge-retrieval-sample", str(tmp_path / "predictions.jsonl"))
    assert code == 0 and "valid submission" in out


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--task", "no-such-task", "--model", "random"],
        ["run", "--task", "muge-retrieval-sample", "--model", "randon"],
        ["run", "--task", "muge-retrieval-sample", "--model", "random", "--model-args", "dims=3"],
        ["run", "--task", "muge-retrieval-sample", "--model", "random", "--model-args", "dim=x"],
        ["run", "--task", "muge-retrieval-sample", "--model", "random", "--split", "test"],
        ["run", "--task", "muge-retrieval-sample", "--model", "random", "--task-args", "colour=red"],
        ["run", "--task", "muge-retrieval-sample", "--model", "random", "--batch-size", "0"],
        ["run", "--task", "muge-retrieval", "--model", "random"],
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str]) -> None:
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err


def test_missing_predictions_file_exits_1(tmp_path: Path) -> None:
    code, _, err = invoke("score", "--task", "muge-retrieval-sample", "--predictions", str(tmp_path / "none.jsonl"))
    assert code == 1 and "none.jsonl: submission not found" in err


def test_user_task_card_and_chinese_clip_layout_both_directions(tmp_path: Path) -> None:
    _image_ids, _texts = make_split(tmp_path / "data", "chinese-clip", "test", n_images=25, n_queries=30)
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "mine.yaml").write_text(
        "name: my-flickr\ntype: retrieval\ndata: {format: chinese-clip, location: ../data}\nsplits: [test]\n"
        "directions: [text_to_image, image_to_text]\nmetrics: [r1, r5, r10, mean_recall]\nmain_metric: mean_recall\n"
    )
    code, out, err = invoke("tasks", "--tasks-dir", str(cards))
    assert "my-flickr" in out
    code, _, err = invoke(
        "run",
        "--task",
        "my-flickr",
        "--tasks-dir",
        str(cards),
        "--model",
        "random",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    document = read_results(tmp_path / "out" / "results.json")
    assert {"r1", "mean_recall", "i2t_r1", "i2t_mean_recall"} <= set(document["metrics"])
    first = json.loads((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()[0])
    assert set(first) == {"text_id", "image_ids"}
    i2t = json.loads((tmp_path / "out" / "predictions_image_to_text.jsonl").read_text().splitlines()[0])
    assert set(i2t) == {"image_id", "text_ids"}
    code, _, err = invoke(
        "score",
        "--task",
        "my-flickr",
        "--tasks-dir",
        str(cards),
        "--split",
        "test",
        "--direction",
        "image_to_text",
        "--predictions",
        str(tmp_path / "out" / "predictions_image_to_text.jsonl"),
        "--output",
        str(tmp_path / "i2t.json"),
    )
    assert code == 0, err
    assert read_results(tmp_path / "i2t.json")["metrics"]["i2t_mean_recall"] == document["metrics"]["i2t_mean_recall"]


def test_features_adapter_from_chinese_clip_feature_files(tmp_path: Path) -> None:
    image_ids, queries = make_split(tmp_path / "data", "muge", n_images=40, n_queries=15)
    rng = np.random.default_rng(0)
    image_vecs = {i: rng.standard_normal(8) for i in image_ids}
    # Each query's vector is its first relevant image's: a perfect model at R@1 on that item.
    write_jsonl(tmp_path / "img.jsonl", [{"image_id": i, "feature": v.tolist()} for i, v in image_vecs.items()])
    write_jsonl(
        tmp_path / "txt.jsonl",
        [{"text_id": q["query_id"], "feature": image_vecs[q["item_ids"][0]].tolist()} for q in queries],
    )
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "t.yaml").write_text(
        "name: t\ntype: retrieval\ndata: {format: muge-mr, location: ../data}\n"
        "metrics: [mean_recall]\nmain_metric: mean_recall\n"
    )
    code, _, err = invoke(
        "run",
        "--task",
        "t",
        "--tasks-dir",
        str(cards),
        "--model",
        "features",
        "--model-args",
        f"image_features={tmp_path / 'img.jsonl'},text_features={tmp_path / 'txt.jsonl'}",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    document = read_results(tmp_path / "out" / "results.json")
    # The card's `metrics:` selects what is reported.
    assert document["metrics"] == {"mean_recall": 100.0}
    assert document["model"]["fingerprint"].startswith("sha256:")
    # The same features as .npy + ids files.
    np.save(tmp_path / "img.npy", np.stack(list(image_vecs.values())).astype(np.float32))
    np.save(tmp_path / "img_ids.npy", np.array(list(image_vecs)))
    (tmp_path / "txt_ids.txt").write_text("\n".join(str(q["query_id"]) for q in queries))
    np.save(tmp_path / "txt.npy", np.stack([image_vecs[q["item_ids"][0]] for q in queries]).astype(np.float32))
    code, _, err = invoke(
        "run",
        "--task",
        "t",
        "--tasks-dir",
        str(cards),
        "--model",
        "features",
        "--model-args",
        f"image_features={tmp_path / 'img.npy'},image_ids={tmp_path / 'img_ids.npy'},"
        f"text_features={tmp_path / 'txt.npy'},text_ids={tmp_path / 'txt_ids.txt'}",
        "--output-dir",
        str(tmp_path / "out2"),
    )
    assert code == 0, err
    assert read_results(tmp_path / "out2" / "results.json")["metrics"] == document["metrics"]


def test_features_adapter_reports_missing_ids(tmp_path: Path) -> None:
    make_split(tmp_path / "data", "muge", n_images=12, n_queries=3)
    write_jsonl(tmp_path / "img.jsonl", [{"image_id": 1, "feature": [1.0, 0.0]}])
    write_jsonl(tmp_path / "txt.jsonl", [{"text_id": 100, "feature": [1.0]}])
    code, _, err = invoke(
        "run",
        "--task",
        "muge-retrieval",
        "--data-dir",
        str(tmp_path / "data"),
        "--model",
        "features",
        "--model-args",
        f"image_features={tmp_path / 'img.jsonl'},text_features={tmp_path / 'txt.jsonl'}",
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert code == 1 and "dimension 1 differs" in err


def test_module_colon_class_model(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run",
        "--task",
        "muge-retrieval-sample",
        "--model",
        "muge_eval.retrieval.adapters.random_baseline:RandomRetrieval",
        "--model-args",
        "dim=16",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0, err
    assert read_results(tmp_path / "results.json")["model"]["args"] == {"dim": "16"}


def test_secret_arguments_are_redacted(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run",
        "--task",
        "muge-retrieval-sample",
        "--model",
        "tests_support_adapter:KeyedRandom",
        "--model-args",
        "api_key=sk-secret,dim=8",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0, err
    text = (tmp_path / "results.json").read_text()
    assert "sk-secret" not in text and "<redacted>" in text


def test_installed_console_script_as_a_subprocess(tmp_path: Path) -> None:
    script = shutil.which("muge-eval") or str(Path(sys.executable).parent / "muge-eval")
    if not Path(script).exists():
        pytest.skip("muge-eval is not installed in this environment (pip install . first)")
    run = subprocess.run(
        [
            script,
            "--quiet",
            "run",
            "--task",
            "muge-retrieval-sample",
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
    assert "mean_recall" in run.stdout
    bad = subprocess.run(
        [script, "score", "--task", "muge-retrieval-sample", "--predictions", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    usage = subprocess.run(
        [script, "run", "--task", "muge-retrieval-sample"], capture_output=True, text=True, timeout=300
    )
    assert usage.returncode == 2


def test_a_model_that_cannot_retrieve_is_refused_clearly(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run",
        "--task",
        "muge-retrieval-sample",
        "--model",
        "tests_support_adapter:CaptionOnly",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 2
    assert "cannot do retrieval" in err and "encode_texts" in err
    assert not (tmp_path / "results.json").exists()
