"""The bundled board: its stored results are valid and reproducible, it builds a site
without touching the checkout, the site holds no absolute path, and the README's
submit example works on a fresh clone."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.leaderboard.board import load_board
from muge_eval.leaderboard.entries import load_entries
from muge_eval.leaderboard.paths import has_absolute_path

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "leaderboards" / "muge-sample"


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_bundled_board_builds_in_both_languages(tmp_path: Path) -> None:
    board = load_board(BOARD)
    entries = load_entries(board)
    assert {e.model for e in entries} >= {"random"}
    assert all(e.samples_path is not None for e in entries)
    assert board.title.zh and all(t.title.zh and t.title.en for t in board.tasks)
    result = CliRunner().invoke(main, ["leaderboard", "build", str(BOARD), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    overview = json.loads((tmp_path / "site" / "overview.json").read_text(encoding="utf-8"))
    retrieval_rows = [r for r in overview["rows"] if "muge-retrieval-sample" in r["tasks"]]
    assert [r["model"] for r in retrieval_rows] == ["random", "random-seed7"]
    assert retrieval_rows[0]["tasks"]["muge-retrieval-sample"]["rank"] == 1
    assert (tmp_path / "site" / "zh" / "index.html").is_file()
    # The bundled cards' data gives the galleries their pictures.
    assert len(list((tmp_path / "site" / "img" / "muge-retrieval-sample").glob("*.jpg"))) >= 30
    for path in (tmp_path / "site").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".jsonl", ".csv"):
            assert not has_absolute_path(path.read_text(encoding="utf-8")), path


def test_rebuild_builds_the_site_without_touching_the_checkout(tmp_path: Path) -> None:
    before = tree_digest(BOARD)
    env = {**os.environ, "MUGE_EVAL": f"{sys.executable} -m muge_eval"}
    result = subprocess.run(
        ["bash", str(BOARD / "rebuild.sh"), str(tmp_path / "site")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert tree_digest(BOARD) == before
    wrong = subprocess.run(["bash", str(BOARD / "rebuild.sh"), "--fast"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "unknown option" in wrong.stderr


def test_stored_random_baseline_is_reproduced_by_a_fresh_run(tmp_path: Path) -> None:
    stored = next(
        e for e in load_entries(load_board(BOARD)) if e.model == "random" and e.task == "muge-retrieval-sample"
    )
    runner = CliRunner()
    args = ["--quiet", "run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(tmp_path)]
    result = runner.invoke(main, [*args, "--expect", str(stored.path)])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


def readme_commands() -> list[str]:
    """The README's commands that copy the bundled board, submit to the copy and build it."""
    text = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [" ".join(line.split("#")[0].split()) for line in text.splitlines()]
    return [
        line
        for line in lines
        if line.startswith("cp -r leaderboards/muge-sample ")
        or (line.startswith("muge-eval ") and ("random-seed3" in line or " build my-board" in line))
    ]


def test_the_readme_submit_example_works_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "leaderboards").mkdir(parents=True)
    shutil.copytree(BOARD, clone / "leaderboards" / "muge-sample", ignore=shutil.ignore_patterns("site"))
    before = tree_digest(clone / "leaderboards" / "muge-sample")
    commands = readme_commands()
    assert [c.split()[:2] for c in commands] == [
        ["cp", "-r"],
        ["muge-eval", "run"],
        ["muge-eval", "submit"],
        ["muge-eval", "leaderboard"],
    ], commands
    runner = CliRunner()
    cwd = Path.cwd()
    os.chdir(clone)
    try:
        for command in commands:
            words = shlex.split(command)
            if words[0] == "cp":
                shutil.copytree(words[2], words[3])
                continue
            result = runner.invoke(main, ["--quiet", *words[1:]])
            assert result.exit_code == 0, (command, result.output)
    finally:
        os.chdir(cwd)
    assert tree_digest(clone / "leaderboards" / "muge-sample") == before  # the checkout's board is untouched
    stored = list((clone / "my-board" / "results").glob("*random-seed3*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text(encoding="utf-8"))["model"]["card"]
    assert "random-seed3" in (clone / "site" / "index.html").read_text(encoding="utf-8")
