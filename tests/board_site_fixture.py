"""A built site with hostile model names, shared by the site and browser tests."""

from __future__ import annotations

from pathlib import Path

from board_helpers import make_board, retrieval_run, t2i_run
from click.testing import CliRunner

from muge_eval.cli.main import main

IMG_XSS = "<img src=x onerror=alert(1)>"
SCRIPT_XSS = "</script><script>alert(2)</script>"
FORMULA = '=HYPERLINK("http://evil")'
# model name -> retrieval rank codes (see retrieval_samples) and t2i (fid, is_mean), or None
MODELS = {
    "alpha": ([0] * 30 + [3] * 10, (30.0, 9.0)),
    IMG_XSS: ([0] * 20 + [3] * 20, (10.0, 5.0)),
    SCRIPT_XSS: ([0] * 10 + [2] * 10 + [3] * 20, None),
    FORMULA: ([3] * 40, (50.0, 2.0)),
}


def build_board_site(tmp_path: Path) -> Path:
    """Submit every model and build the site; returns the site folder."""
    board = make_board(tmp_path / "board", with_t2i=True)
    runner = CliRunner()
    for index, (name, (hits, t2i)) in enumerate(MODELS.items()):
        run = retrieval_run(tmp_path / f"r{index}", name, hits, seed=index)
        result = runner.invoke(main, ["submit", str(run), "--board", str(board)])
        assert result.exit_code == 0, result.output
        if t2i is not None:
            run = t2i_run(tmp_path / f"t{index}", name, *t2i)
            result = runner.invoke(main, ["submit", str(run), "--board", str(board)])
            assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    result = runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(site)])
    assert result.exit_code == 0, result.output
    return site
