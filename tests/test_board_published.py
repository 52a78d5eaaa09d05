"""Reference rows from the registry of published results on a board."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.leaderboard.published_rows import parameter_count, published_lookup, registry_record
from muge_eval.published.loader import find_published

ENTRY = "chinese-clip-results/cn-clip-vit-b-16/muge/valid/t2i/zero-shot"


def test_a_registry_entry_becomes_a_reference_record() -> None:
    record = registry_record(find_published(ENTRY))
    assert record["task"] == "muge-retrieval" and record["split"] == "valid"
    assert record["metrics"] == {"r1": 52.1, "r5": 76.7, "r10": 84.4, "mean_recall": 71.1}
    assert "Chinese-CLIP/Results.md@" in record["source"] and record["setting"] == "zero-shot"
    assert published_lookup()(ENTRY) == record and published_lookup()("no/such/id") is None
    assert parameter_count("188M") == 188e6 and parameter_count("1.5B") == 1.5e9 and parameter_count("large") is None


def test_a_board_shows_a_registry_id_as_a_marked_reference_row(tmp_path: Path) -> None:
    board = tmp_path / "board"
    (board / "results").mkdir(parents=True)
    task = {"name": "muge-retrieval", "split": "valid", "main_metric": "mean_recall",
            "columns": ["mean_recall", "r1"], "fingerprints": ["sha256:x"], "references": [{"id": ENTRY}]}  # fmt: skip
    (board / "board.yaml").write_text(yaml.safe_dump({"title": "Refs", "tasks": [task]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["--quiet", "leaderboard", "build", str(board), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "site" / "tasks" / "muge-retrieval.json").read_text())["rows"]
    reference = next(r for r in rows if r.get("kind") == "reference")
    assert reference["metrics"]["mean_recall"]["value"] == 71.1
    assert reference["metrics"]["mean_recall"].get("rank") is None
