"""``muge-eval leaderboard build``: pages, order, escaping, downloads (no browser)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from board_helpers import make_board, retrieval_run
from board_site_fixture import FORMULA, IMG_XSS, SCRIPT_XSS, build_board_site
from click.testing import CliRunner

from muge_eval.cli.main import main


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_board_site(tmp_path_factory.mktemp("site"))


def test_site_has_overview_task_and_run_pages_with_downloads(site: Path) -> None:
    for name in ("index.html", "overview.csv", "overview.json"):
        assert (site / name).is_file()
    for task in ("muge-retrieval-sample", "t2i-sample"):
        for suffix in (".html", ".csv", ".json"):
            assert (site / "tasks" / f"{task}{suffix}").is_file()
    runs = sorted(p.name for p in (site / "runs").iterdir())
    assert len([r for r in runs if r.endswith(".html")]) == 7
    assert len([r for r in runs if r.endswith(".samples.jsonl")]) == 4  # retrieval runs only
    run_page = next((site / "runs").glob("muge-retrieval-sample--alpha-*.html")).read_text(encoding="utf-8")
    assert "per-sample scores" in run_page and "total_s" in run_page and "dim" in run_page


def test_overview_order_and_average_ranks(site: Path) -> None:
    overview = json.loads((site / "overview.json").read_text(encoding="utf-8"))
    # retrieval mean_recall: alpha 75 > img 50 > script 41.7 > formula 0  -> ranks 1, 2, 3, 4
    # t2i fid (lower is better): img 10 < alpha 30 < formula 50          -> ranks 1, 2, 3
    # A tie on average rank goes to more tasks, then to the name ("<" sorts before "a").
    rows = [(r["model"], r["average_rank"], r["tasks_ranked"]) for r in overview["rows"]]
    assert rows == [(IMG_XSS, 1.5, 2), ("alpha", 1.5, 2), (SCRIPT_XSS, 3.0, 1), (FORMULA, 3.5, 2)]
    assert overview["bootstrap"] == {"resamples": 200, "seed": 7, "confidence": 0.95, "method": "percentile"}


def test_task_table_sorts_fid_ascending_and_explains_missing_intervals(site: Path) -> None:
    table = json.loads((site / "tasks" / "t2i-sample.json").read_text(encoding="utf-8"))
    assert [r["model"] for r in table["rows"]] == [IMG_XSS, "alpha", FORMULA]
    assert [r["metrics"]["fid"]["rank"] for r in table["rows"]] == [1, 2, 3]
    assert [r["metrics"]["is_mean"]["rank"] for r in table["rows"]] == [2, 1, 3]
    assert all(r["metrics"]["fid"]["ci95_low"] is None for r in table["rows"])
    page = (site / "tasks" / "t2i-sample.html").read_text(encoding="utf-8")
    assert "FID compares two feature distributions" in page
    assert "lower is better" in page
    retrieval = json.loads((site / "tasks" / "muge-retrieval-sample.json").read_text(encoding="utf-8"))
    top = retrieval["rows"][0]["metrics"]["mean_recall"]
    assert top["ci95_low"] < top["value"] < top["ci95_high"]


def test_hostile_names_are_escaped_everywhere(site: Path) -> None:
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<img src=x" not in html, page
        assert "<script>alert" not in html, page
        assert html.count("<script>") == 1, page  # only the site's own sorting script
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in index
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert "Content-Security-Policy" in index and "default-src &#39;none&#39;" in index


def test_csv_cells_cannot_run_as_formulas(site: Path) -> None:
    with (site / "overview.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    names = [row[0] for row in rows[1:]]
    assert "'" + FORMULA in names
    assert not any(name.startswith("=") for name in names)


def test_build_refuses_a_folder_that_is_not_a_site_and_replaces_an_old_site(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "m", [0, 1, 2, 3])
    runner = CliRunner()
    assert runner.invoke(main, ["submit", str(run), "--board", str(board)]).exit_code == 0
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(precious)])
    assert result.exit_code == 2 and "not a site built by muge-eval" in result.output
    assert (precious / "keep.txt").read_text(encoding="utf-8") == "mine"
    site = tmp_path / "site"
    for _ in range(2):
        result = runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(site)])
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_build_reports_an_invalid_file_placed_on_the_board_by_hand(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    (board / "results").mkdir()
    (board / "results" / "bad.json").write_text('{"schema_version": "1.0"}', encoding="utf-8")
    result = CliRunner().invoke(main, ["leaderboard", "build", str(board), "--out", str(tmp_path / "site")])
    assert result.exit_code == 1
    assert "bad.json" in result.output and "required property" in result.output
    assert not (tmp_path / "site").exists()


def test_http_model_urls_become_escaped_links(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "linked", [0, 1, 2, 3])
    document = json.loads(run.read_text(encoding="utf-8"))
    document["model"]["url"] = 'https://example.com/m?a=1&b="><script>'
    run.write_text(json.dumps(document), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["submit", str(run), "--board", str(board)]).exit_code == 0
    assert runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(tmp_path / "site")]).exit_code == 0
    page = (tmp_path / "site" / "tasks" / "muge-retrieval-sample.html").read_text(encoding="utf-8")
    link = '<a href="https://example.com/m?a=1&amp;b=&#34;&gt;&lt;script&gt;" rel="noopener noreferrer nofollow">'
    assert link in page


def test_an_empty_board_builds(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board", with_t2i=True)
    result = CliRunner().invoke(main, ["leaderboard", "build", str(board), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert "No results yet" in (tmp_path / "site" / "tasks" / "t2i-sample.html").read_text(encoding="utf-8")
