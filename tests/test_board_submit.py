"""``muge-eval submit``: what a board accepts, refuses, and how it stores results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from board_helpers import (
    PERCENT,
    RETRIEVAL_FP,
    make_board,
    results_document,
    retrieval_metrics,
    retrieval_run,
    retrieval_samples,
    write_run,
)
from click.testing import CliRunner

from muge_eval.cli.main import main

HITS = [0, 1, 2, 3] * 10


def submit(path: Path, board: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["submit", str(path), "--board", str(board), *extra])
    return result.exit_code, result.output


def board_files(board: Path) -> list[str]:
    return sorted(p.name for p in (board / "results").glob("*")) if (board / "results").is_dir() else []


def test_submit_stores_results_and_samples_under_canonical_names(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "My Model <v1>", HITS)
    code, output = submit(run, board)
    assert code == 0, output
    names = board_files(board)
    assert len(names) == 2
    results_name = next(n for n in names if n.endswith(".json"))
    assert results_name.startswith("muge-retrieval-sample--My_Model_v1-")
    stored = json.loads((board / "results" / results_name).read_text(encoding="utf-8"))
    assert stored["files"] == {"samples": results_name.removesuffix(".json") + ".samples.jsonl"}
    copied = (board / "results" / stored["files"]["samples"]).read_text(encoding="utf-8")
    assert copied == (run.parent / "samples.jsonl").read_text(encoding="utf-8")
    assert stored["metrics"] == json.loads(run.read_text(encoding="utf-8"))["metrics"]


def test_submit_without_samples_is_accepted_with_a_note(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    samples = retrieval_samples(HITS)
    metrics = retrieval_metrics(samples)
    run = write_run(tmp_path / "run", results_document("m", metrics, {k: dict(PERCENT) for k in metrics}))
    code, output = submit(run, board)
    assert code == 0, output
    assert "no samples file" in output
    assert len(board_files(board)) == 1


@pytest.mark.parametrize("variant", ["model-a", "MODEL-A", "  model-a "])
def test_duplicate_model_and_task_is_refused(tmp_path: Path, variant: str) -> None:
    board = make_board(tmp_path / "board")
    assert submit(retrieval_run(tmp_path / "a", "model-a", HITS), board)[0] == 0
    before = {p.name: p.read_bytes() for p in (board / "results").iterdir()}
    code, output = submit(retrieval_run(tmp_path / "b", variant, HITS[::-1]), board)
    assert code == 1
    assert "already on the board" in output and "--replace" in output
    assert {p.name: p.read_bytes() for p in (board / "results").iterdir()} == before


def test_replace_swaps_the_stored_result(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    assert submit(retrieval_run(tmp_path / "a", "model-a", HITS), board)[0] == 0
    code, output = submit(retrieval_run(tmp_path / "b", "Model-A", [0] * 40), board, "--replace")
    assert code == 0, output
    stored = [json.loads(p.read_text(encoding="utf-8")) for p in (board / "results").glob("*.json")]
    assert len(stored) == 1 and stored[0]["model"]["name"] == "Model-A"
    assert stored[0]["metrics"]["r1"] == 100.0
    assert len(board_files(board)) == 2  # the old samples file went with the old name


def _edit(path: Path, change: object) -> Path:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)  # type: ignore[operator]
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


REFUSALS = [
    (lambda d: d["task"].update(name="other-task"), "task/name", "not ranked on this board"),
    (lambda d: d["dataset"].update(split="test"), "dataset/split", "the board ranks 'valid'"),
    (lambda d: d["dataset"].update(fingerprint="sha256:" + "00" * 32), "dataset/fingerprint", "not one the board"),
    (lambda d: d["run_config"].update(limit=5), "run_config/limit", "--limit"),
    (lambda d: d["metrics"].update(r1=150.0), "metrics/r1", "outside [0.0, 100.0]"),
    (lambda d: d["metrics"].update(r5=-1.0), "metrics/r5", "outside"),
    (lambda d: d["metrics"].pop("r10"), "metrics", "lacks"),
    (lambda d: d["model"].update(url="javascript:alert(1)"), "model/url", "http(s)"),
    (lambda d: d["files"].update(samples="gone.jsonl"), "files/samples", "missing"),
    (lambda d: d["files"].update(samples="../../etc/passwd"), "files/samples", "same folder"),
    (lambda d: d.pop("metric_info"), "", "metric_info"),
    (lambda d: d["metrics"].update(r1="12"), "metrics/r1", "not of type 'number'"),
]


@pytest.mark.parametrize(("change", "field", "message"), REFUSALS)
def test_refusals_name_the_field_and_write_nothing(tmp_path: Path, change: object, field: str, message: str) -> None:
    board = make_board(tmp_path / "board")
    run = _edit(retrieval_run(tmp_path / "run", "m", HITS), change)
    code, output = submit(run, board)
    assert code == 1, output
    assert message in output
    assert field in output
    assert "Traceback" not in output
    assert board_files(board) == []


def test_nan_metric_is_refused(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "m", HITS)
    run.write_text(run.read_text(encoding="utf-8").replace('"r1": 25.0', '"r1": NaN'), encoding="utf-8")
    code, output = submit(run, board)
    assert code == 1 and "NaN is not allowed" in output
    assert board_files(board) == []


def test_corrupt_samples_file_is_refused_with_its_line(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "m", HITS)
    samples = run.parent / "samples.jsonl"
    samples.write_text(samples.read_text(encoding="utf-8") + "[1, 2]\n", encoding="utf-8")
    code, output = submit(run, board)
    assert code == 1 and "samples.jsonl:41" in output and "JSON object" in output
    assert board_files(board) == []


def test_direction_must_agree_with_results_on_the_board(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    assert submit(retrieval_run(tmp_path / "a", "a", HITS), board)[0] == 0
    run = _edit(
        retrieval_run(tmp_path / "b", "b", HITS), lambda d: d["metric_info"]["r1"].update(higher_is_better=False)
    )
    code, output = submit(run, board)
    assert code == 1 and "higher_is_better disagrees" in output


def test_board_ranges_override_the_unit_range(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    text = (
        (board / "board.yaml")
        .read_text(encoding="utf-8")
        .replace("  title: Retrieval\n", "  title: Retrieval\n  ranges:\n    r1: [0, 10]\n")
    )
    (board / "board.yaml").write_text(text, encoding="utf-8")
    code, output = submit(retrieval_run(tmp_path / "run", "m", HITS), board)
    assert code == 1 and "25.0 is outside [0, 10]" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("title: x\ntasks: []\n", "tasks: must be a non-empty list"),
        ("title: x\ncolour: red\ntasks: []\n", "colour: unknown key"),
        (
            f"title: x\ntasks:\n  - {{name: t, split: v, main_metric: m, fingerprints: [{RETRIEVAL_FP}], sort: up}}\n",
            "tasks[0].sort: unknown key",
        ),
        (
            "title: x\ntasks:\n  - name: t\n    split: valid\n    main_metric: m\n",
            "tasks[0].fingerprints: must be a non-empty list",
        ),
        (
            "title: x\nbootstrap: {resamples: 5}\ntasks:\n  - {name: t, split: v, main_metric: m, fingerprints: [f]}\n",
            "bootstrap.resamples",
        ),
        ("[unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_board_yaml_is_reported(tmp_path: Path, content: str, message: str) -> None:
    board = tmp_path / "board"
    board.mkdir()
    (board / "board.yaml").write_text(content, encoding="utf-8")
    code, output = submit(retrieval_run(tmp_path / "run", "m", HITS), board)
    assert code == 1
    assert message in output


def test_missing_board_is_reported(tmp_path: Path) -> None:
    code, output = submit(retrieval_run(tmp_path / "run", "m", HITS), tmp_path / "nowhere")
    assert code == 1 and "board.yaml not found" in output
