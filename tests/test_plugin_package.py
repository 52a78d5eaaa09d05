"""A third-party package adds a task type, a metric and a card through entry points alone,
and muge-eval runs, scores, submits and builds a board with them: nothing under
muge_eval/ knows the new type.

The package is written here, built and installed with pip into a folder of its own, and
the commands run with that folder on PYTHONPATH, as they would with the plugin installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TASK_MODULE = '''
"""pair-match: do two texts say the same thing? An embedding adapter judges by cosine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from muge_eval.errors import InputError, Problem, ProblemList
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import RETRIEVAL, RetrievalAdapter, TextBatch
from muge_eval.specs import DatasetInfo, PredictionFile, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption


def read_pairs(path: Path) -> dict[str, dict[str, Any]]:
    pairs: dict[str, dict[str, Any]] = {}
    problems = ProblemList(str(path))
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        if not isinstance(record.get("label"), int):
            problems.add("must be 0 or 1", number, "label")
            continue
        pairs[str(record["id"])] = record
    problems.raise_if_any("invalid pair file")
    return pairs


class PairMatchTask(TaskType):
    name = "pair-match"
    summary = "text pair matching, judged by an embedding model"
    capability = RETRIEVAL
    adapter_protocols = (RetrievalAdapter,)
    data_formats = ("pairs-jsonl",)
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("threshold", "cosine above which a pair matches", float, 0.0, flag="--threshold"),
    )
    submission_formats = (SubmissionFormat("pairs", "predictions.jsonl", '{"id": ..., "label": 0 or 1}'),)
    identity_protocol_keys = ("threshold",)
    item_key = "id"

    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return (
            MetricSpec("accuracy", "share of pairs labelled right (%)", item_fields=("correct",), scale=100.0),
        )

    def load_gold(self, split, data_dir, gold_path, direction):  # type: ignore[no-untyped-def]
        path = gold_path or self.require_data_dir(data_dir) / f"{split}.jsonl"
        return read_pairs(path)

    def read_submission(self, gold, path, direction):  # type: ignore[no-untyped-def]
        predicted = read_pairs(path)
        missing = sorted(set(gold) - set(predicted))
        if missing:
            raise InputError([Problem(str(path), f"no label for pair(s) {', '.join(missing)}", None, "id")])
        return {k: v["label"] for k, v in predicted.items()}

    def _score(self, gold, submission):  # type: ignore[no-untyped-def]
        samples = tuple(
            {"id": k, "label": g["label"], "predicted": submission[k], "correct": submission[k] == g["label"]}
            for k, g in gold.items()
        )
        accuracy = sum(s["correct"] for s in samples) / len(samples) * 100
        info = DatasetInfo("plugin", self.card.data.format, "", "sha256:none", {"pairs": len(samples)})
        protocol = {"threshold": self.settings["threshold"]}
        return TaskOutcome(dataset=info, metrics={"accuracy": accuracy}, protocol=protocol, samples=samples)

    def _evaluate(self, model, config, progress):  # type: ignore[no-untyped-def]
        gold = self.load_gold(config.split, config.data_dir, None, None)
        ids = list(gold)[: config.limit]
        gold = {k: gold[k] for k in ids}
        left = model.encode_text_batch(TextBatch([f"{k}a" for k in ids], [gold[k]["a"] for k in ids]))
        right = model.encode_text_batch(TextBatch([f"{k}b" for k in ids], [gold[k]["b"] for k in ids]))
        cosine = (left * right).sum(1) / np.linalg.norm(left, axis=1) / np.linalg.norm(right, axis=1)
        labels = {k: int(c > self.settings["threshold"]) for k, c in zip(ids, cosine)}

        def write(path: Path) -> None:
            path.write_text("".join(json.dumps({"id": k, "label": v}) + "\\n" for k, v in labels.items()))

        outcome = self._score(gold, labels)
        info = DatasetInfo("plugin", self.card.data.format, config.split, "sha256:pairs", {"pairs": len(ids)})
        return TaskOutcome(dataset=info, metrics=outcome.metrics, protocol=outcome.protocol, samples=outcome.samples,
                           predictions=(PredictionFile("predictions.jsonl", "pairs", write),))
'''

METRIC_MODULE = """
from muge_eval.metrics.spec import MetricSpec

error_rate = MetricSpec(
    "error_rate", "share of pairs labelled wrong (%)", higher_is_better=False,
    item_fn=lambda s: 0.0 if s["correct"] else 1.0, scale=100.0, task_types=("pair-match",),
)
"""

CARD = """\
name: pair-sample
type: pair-match
description: Five text pairs.
data: {format: pairs-jsonl, location: data}
splits: [valid]
metrics: [accuracy, error_rate]
main_metric: accuracy
"""

PAIRS = [
    {"id": 1, "a": "红色连衣裙", "b": "红色连衣裙", "label": 1},
    {"id": 2, "a": "蓝色T恤", "b": "黑色皮鞋", "label": 0},
    {"id": 3, "a": "白色运动鞋", "b": "白色运动鞋", "label": 1},
    {"id": 4, "a": "保温杯", "b": "蓝牙耳机", "label": 0},
    {"id": 5, "a": "羊毛围巾", "b": "羊毛手套", "label": 0},
]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin, built and installed with pip into a folder of its own."""
    source = tmp_path_factory.mktemp("plugin-src")
    package = source / "pair_plugin"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\nCARD = Path(__file__).with_name('pair-sample.yaml')\n"
    )
    (package / "task.py").write_text(TASK_MODULE)
    (package / "metrics.py").write_text(METRIC_MODULE)
    (package / "pair-sample.yaml").write_text(CARD)
    (package / "data" / "valid.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAIRS))
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["setuptools>=70.1"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "pair-plugin"
            version = "0.1"

            [project.entry-points."muge_eval.task_types"]
            pair-match = "pair_plugin.task:PairMatchTask"

            [project.entry-points."muge_eval.metrics"]
            error_rate = "pair_plugin.metrics:error_rate"

            [project.entry-points."muge_eval.tasks"]
            pair-sample = "pair_plugin:CARD"

            [tool.setuptools]
            packages = ["pair_plugin"]

            [tool.setuptools.package-data]
            pair_plugin = ["*.yaml", "data/*.jsonl"]
            """
        )
    )
    target = tmp_path_factory.mktemp("plugin-site")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return target


def muge(plugin: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "muge_eval", "--quiet", *args], env=env, capture_output=True, text=True, timeout=300,
        cwd=cwd,
    )  # fmt: skip


def test_a_plugin_adds_a_task_type_a_metric_and_a_card(plugin_path: Path, tmp_path: Path) -> None:
    card = "pair-sample"  # the card ships in the package (muge_eval.tasks entry point)
    assert "pair-sample" in muge(plugin_path, "tasks").stdout
    listed = muge(plugin_path, "task-types", "pair-match")
    assert listed.returncode == 0 and "accuracy" in listed.stdout, listed.stderr
    assert "error_rate" in muge(plugin_path, "metrics").stdout

    run = muge(plugin_path, "run", "--task", card, "--model", "random", "--threshold", "0.5",
               "--log-samples", "--output-dir", str(tmp_path / "run"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["task"]["type"] == "pair-match" and results["main_metric"] == "accuracy"
    # The random baseline gives identical texts identical vectors (their ids differ, so
    # its batch hook draws per id): count what it got right from the samples.
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    correct = sum(s["correct"] for s in samples)
    assert results["metrics"]["accuracy"] == pytest.approx(correct / 5 * 100)
    assert results["metrics"]["error_rate"] == pytest.approx(100 - correct / 5 * 100)
    assert all(s["error_rate"] == (0.0 if s["correct"] else 1.0) for s in samples)
    assert results["metric_info"]["error_rate"]["higher_is_better"] is False
    assert results["protocol"]["threshold"] == 0.5

    scored = muge(plugin_path, "score", "--task", card, "--predictions", str(tmp_path / "run" / "predictions.jsonl"),
                  "--output", str(tmp_path / "scored.json"))  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "scored.json").read_text())["metrics"] == results["metrics"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "label": "yes"}\n')
    refused = muge(plugin_path, "validate", "--task", card, str(bad))
    assert refused.returncode == 1 and f"{bad}:1: label: must be 0 or 1" in refused.stderr

    board = tmp_path / "board"
    (board / "results").mkdir(parents=True)
    (board / "board.yaml").write_text(
        "title: Pairs\ntasks:\n  - name: pair-sample\n    split: valid\n    main_metric: accuracy\n"
        "    columns: [accuracy, error_rate]\n    fingerprints: ['sha256:pairs']\n"
    )
    submitted = muge(plugin_path, "submit", str(tmp_path / "run" / "results.json"), "--board", str(board))
    assert submitted.returncode == 0, submitted.stderr
    built = muge(plugin_path, "leaderboard", "build", str(board), "--out", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    page = next((tmp_path / "site").rglob("pair-sample*.html")).read_text()
    assert "error_rate" in page and "accuracy" in page

    # Without the plugin the same results file is refused by name, not with a traceback.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    alone = subprocess.run(
        [sys.executable, "-m", "muge_eval", "table", str(tmp_path / "run" / "results.json")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert alone.returncode == 1 and "unknown task type 'pair-match'" in alone.stderr
    assert "Traceback" not in alone.stderr
