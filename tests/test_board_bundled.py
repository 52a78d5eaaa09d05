"""The bundled board: its stored results are valid, reproducible, and build a site."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.leaderboard.board import load_board
from muge_eval.leaderboard.entries import load_entries

BOARD = Path(__file__).resolve().parents[1] / "leaderboards" / "muge-sample"


def test_bundled_board_builds(tmp_path: Path) -> None:
    board = load_board(BOARD)
    entries = load_entries(board)
    assert {e.model for e in entries} >= {"random"}
    assert all(e.samples_path is not None for e in entries)
    result = CliRunner().invoke(main, ["leaderboard", "build", str(BOARD), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    overview = json.loads((tmp_path / "site" / "overview.json").read_text(encoding="utf-8"))
    retrieval_rows = [r for r in overview["rows"] if "muge-retrieval-sample" in r["tasks"]]
    assert [r["model"] for r in retrieval_rows] == ["random", "random-seed7"]
    assert retrieval_rows[0]["tasks"]["muge-retrieval-sample"]["rank"] == 1


def test_stored_random_baseline_is_reproduced_by_a_fresh_run(tmp_path: Path) -> None:
    stored = next(e for e in load_entries(load_board(BOARD)) if e.model == "random")
    runner = CliRunner()
    args = ["--quiet", "run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(tmp_path)]
    result = runner.invoke(main, [*args, "--expect", str(stored.path)])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
