"""``muge-eval leaderboard build``: pages, order, escaping, downloads (no browser)."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from board_helpers import make_board, retrieval_run
from board_site_fixture import (
    ALPHA_DISPLAY,
    CAPTION_XSS,
    CARD_XSS,
    FORMULA,
    IMG_XSS,
    OVERVIEW_ORDER,
    PROMPT_XSS,
    REF_MODEL,
    REFERENCE_XSS,
    SCRIPT_XSS,
    SOURCE_XSS,
    build_board_site,
)
from click.testing import CliRunner

from muge_eval.cli.main import main


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parsed_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of a page with its attributes, as a browser's tokenizer sees them."""
    collector = TagCollector()
    collector.feed(html)
    return collector.tags


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_board_site(tmp_path_factory.mktemp("site"))


def test_site_has_overview_task_run_and_gallery_pages_in_both_languages(site: Path) -> None:
    for name in ("index.html", "zh/index.html", "overview.csv", "overview.json"):
        assert (site / name).is_file()
    for task in ("muge-retrieval-sample", "t2i-sample", "caption-sample"):
        for page in (f"tasks/{task}.html", f"zh/tasks/{task}.html", f"tasks/{task}.csv", f"tasks/{task}.json"):
            assert (site / page).is_file()
    runs = sorted(p.name for p in (site / "runs").iterdir())
    assert len([r for r in runs if r.endswith(".html")]) == 9
    assert len([r for r in runs if r.endswith(".samples.jsonl")]) == 9
    assert len(list((site / "zh" / "runs").glob("*.html"))) == 9
    assert len(list((site / "gallery").glob("*.html"))) == len(list((site / "zh" / "gallery").glob("*.html"))) == 9
    run_page = next((site / "runs").glob("muge-retrieval-sample--alpha-*.html")).read_text(encoding="utf-8")
    assert "per-sample scores" in run_page and "total_s" in run_page and "dim" in run_page
    zh = (site / "zh" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in zh and "平均名次" in zh and "平均召回率" in zh and "图像描述" in zh
    assert 'href="../index.html" hreflang="en"' in zh
    assert 'href="zh/index.html" hreflang="zh-CN"' in (site / "index.html").read_text(encoding="utf-8")
    task_zh = (site / "zh" / "tasks" / "muge-retrieval-sample.html").read_text(encoding="utf-8")
    assert "前 1 召回率" in task_zh and 'href="../../tasks/muge-retrieval-sample.csv"' in task_zh


def test_overview_order_counts_tasks_before_average_rank(site: Path) -> None:
    overview = json.loads((site / "overview.json").read_text(encoding="utf-8"))
    # retrieval mean_recall: alpha 75 > img 50 > script 33.3 > formula 0 -> ranks 1, 2, 3, 4
    # t2i fid (lower is better): img 10 < alpha 30 < formula 50          -> ranks 1, 2, 3
    # caption rouge_l: script 70 > alpha 50                              -> ranks 1, 2
    # IMG_XSS has the best average rank (1.5) but was evaluated on 2 tasks of 3: alpha, on
    # all 3, comes first. The published reference is last and has no rank.
    rows = [(r["kind"], r["model"], r["average_rank"], r["tasks_ranked"]) for r in overview["rows"]]
    assert rows == [
        ("submission", "alpha", pytest.approx(5 / 3), 3),
        ("submission", IMG_XSS, 1.5, 2),
        ("submission", SCRIPT_XSS, 2.0, 2),
        ("submission", FORMULA, 3.5, 2),
        ("reference", REF_MODEL, None, 0),
    ]
    assert [r["model"] for r in overview["rows"][:4]] == OVERVIEW_ORDER
    assert overview["rows"][0]["card"]["display_name"] == ALPHA_DISPLAY
    assert overview["rows"][0]["card"]["parameters"] == 150_000_000
    assert overview["bootstrap"] == {"resamples": 200, "seed": 7, "confidence": 0.95, "method": "percentile"}


def test_reference_rows_are_marked_sorted_by_value_and_never_ranked(site: Path) -> None:
    table = json.loads((site / "tasks" / "muge-retrieval-sample.json").read_text(encoding="utf-8"))
    assert [r["kind"] for r in table["rows"]] == ["submission", "reference", "submission", "submission", "submission"]
    reference = table["rows"][1]
    assert reference["metrics"]["mean_recall"] == {
        "value": 60.0,
        "ci95_low": None,
        "ci95_high": None,
        "rank": None,
        "lead_not_significant": None,
    }
    assert "r5" not in reference["metrics"] and reference["source"] == SOURCE_XSS
    assert [r["metrics"]["mean_recall"]["rank"] for r in table["rows"] if r["kind"] == "submission"] == [1, 2, 3, 4]
    page = (site / "tasks" / "muge-retrieval-sample.html").read_text(encoding="utf-8")
    assert page.count('class="reference"') == 1 and "published, not ranked" in page
    with (site / "tasks" / "muge-retrieval-sample.csv").open(encoding="utf-8", newline="") as handle:
        kinds = [row[1] for row in csv.reader(handle)][1:]
    assert kinds == ["submission", "reference", "submission", "submission", "submission"]


def test_task_page_has_forest_and_scatter_plots(site: Path) -> None:
    page = (site / "tasks" / "muge-retrieval-sample.html").read_text(encoding="utf-8")
    assert page.count('class="forest"') == 1 and page.count('class="scatter"') == 2
    # Alpha, IMG_XSS and the reference state their size and date; forest: every row.
    forest = page[page.index('class="forest"') : page.index("</svg>", page.index('class="forest"'))]
    assert forest.count('<g class="row">') == 5 and forest.count('class="pt ref"') == 1
    scatter = page[page.index('class="scatter"') :]
    assert scatter[: scatter.index("</svg>")].count('<g class="point">') == 3
    t2i = (site / "tasks" / "t2i-sample.html").read_text(encoding="utf-8")
    assert "No model on this task states its number of parameters" not in t2i
    caption = (site / "tasks" / "caption-sample.html").read_text(encoding="utf-8")
    assert caption.count('<g class="point">') == 2  # alpha alone, against size and date


def test_task_table_sorts_fid_ascending_and_explains_missing_intervals(site: Path) -> None:
    table = json.loads((site / "tasks" / "t2i-sample.json").read_text(encoding="utf-8"))
    assert [r["model"] for r in table["rows"]] == [IMG_XSS, "alpha", FORMULA]
    assert [r["metrics"]["fid"]["rank"] for r in table["rows"]] == [1, 2, 3]
    assert [r["metrics"]["is_mean"]["rank"] for r in table["rows"]] == [2, 1, 3]
    assert all(r["metrics"]["fid"]["ci95_low"] is None for r in table["rows"])
    page = (site / "tasks" / "t2i-sample.html").read_text(encoding="utf-8")
    assert "FID compares two feature distributions" in page
    assert "lower is better" in page
    zh = (site / "zh" / "tasks" / "t2i-sample.html").read_text(encoding="utf-8")
    assert "集合级指标" in zh and "越低越好" in zh
    retrieval = json.loads((site / "tasks" / "muge-retrieval-sample.json").read_text(encoding="utf-8"))
    top = retrieval["rows"][0]["metrics"]["mean_recall"]
    assert top["ci95_low"] < top["value"] < top["ci95_high"]


def test_galleries_show_thumbnails_from_the_data_and_the_run(site: Path) -> None:
    page = next((site / "gallery").glob("muge-retrieval-sample--alpha-*.html")).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="\.\./(img/[^"]+)"', page)
    # 6 seeded queries, and the 2 worst and 2 best (some may be among the seeded ones); 5
    # results each (a query without a hit in its top 5 also shows a relevant image)
    items = page.count('<section class="item')
    assert 6 <= items <= 10 and len(sources) >= 5 * items and all((site / s).is_file() for s in sources)
    assert page.count('class="pic marked"') >= items - 2
    assert all(len((site / s).read_bytes()) <= 16_000 for s in set(sources))
    t2i = next((site / "gallery").glob("t2i-sample--alpha-*.html")).read_text(encoding="utf-8")
    assert t2i.count("/run-t2i-sample--alpha-") == 6 and t2i.count('alt="real image') == 6
    caption = next((site / "gallery").glob("caption-sample--alpha-*.html")).read_text(encoding="utf-8")
    assert "worst" in caption and "best" in caption and "caption 0 by alpha" in caption


def test_every_hostile_string_is_escaped_everywhere(site: Path) -> None:
    hostile = [IMG_XSS, SCRIPT_XSS, CAPTION_XSS, REFERENCE_XSS, PROMPT_XSS, CARD_XSS, SOURCE_XSS, REF_MODEL]
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for text in hostile:
            assert text not in html, (page, text)
        assert "<img src=x" not in html and "<img src=y" not in html, page
        assert "<script>alert" not in html and "<script>window" not in html, page
        assert html.count("<script>") == 1, page  # only the site's own script
        tags = parsed_tags(html)
        assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.startswith("on")], page
        assert [t for t, _ in tags if t == "script"] == ["script"], page
        assert all(t != "img" or dict(a).get("src", "").startswith(("img/", "../img/", "../../img/")) for t, a in tags)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in index
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert "Content-Security-Policy" in index and "default-src &#39;none&#39;" in index
    assert "img-src &#39;self&#39; data:" in index
    caption = next((site / "gallery").glob("caption-sample--alpha-*.html")).read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=&#34;window.__xss=3&#34;&gt;" in caption


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


def test_published_copies_hold_no_absolute_path(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "pathy", [0, 1, 2, 3])
    document = json.loads(run.read_text(encoding="utf-8"))
    document["dataset"]["source"] = "local:/home/alice/data/MUGE"
    document["model"]["args"] = {"checkpoint": "/home/alice/ckpt/model.pt", "url": "https://example.com/a/b"}
    document["notes"] = ["12 image(s) reused from /root/.cache/muge-eval/t2i-generations (same model)"]
    run.write_text(json.dumps(document), encoding="utf-8")
    samples = run.parent / "samples.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "image_path": "/home/alice/images/1.jpg"})
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["submit", str(run), "--board", str(board)]).exit_code == 0
    site = tmp_path / "site"
    assert runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(site)]).exit_code == 0
    written = [p for folder in (board, site) for p in folder.rglob("*") if p.is_file() and p.suffix != ".jpg"]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "/home/alice" not in text and "/root/" not in text, path
    stored = json.loads(next((board / "results").glob("*.json")).read_text(encoding="utf-8"))
    assert stored["dataset"]["source"] == "local:…/MUGE"
    assert stored["model"]["args"] == {"checkpoint": "…/model.pt", "url": "https://example.com/a/b"}
    assert stored["notes"] == ["12 image(s) reused from …/t2i-generations (same model)"]
    copied = next((board / "results").glob("*.samples.jsonl")).read_text(encoding="utf-8").splitlines()
    assert json.loads(copied[0])["image_path"] == "…/1.jpg"
    assert copied[1:] == lines[1:]  # lines without a path are copied as they are


def test_build_refuses_a_data_dir_for_a_task_not_on_the_board(tmp_path: Path) -> None:
    board = make_board(tmp_path / "board")
    args = ["leaderboard", "build", str(board), "--out", str(tmp_path / "site")]
    result = CliRunner().invoke(main, [*args, f"--data-dir=other-task={tmp_path}"])
    assert result.exit_code == 2 and "other-task" in result.output
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "TASK=DIR" in result.output


def test_every_text_of_the_templates_and_gallery_hooks_has_a_chinese_translation() -> None:
    from importlib import resources

    from muge_eval.leaderboard.gallery.hooks import HOOKS, GalleryHook
    from muge_eval.leaderboard.gallery.select import BEST, SEEDED, WORST
    from muge_eval.leaderboard.i18n import ZH
    from muge_eval.leaderboard.modelcard import SETTINGS, WEIGHTS

    folder = resources.files("muge_eval.leaderboard").joinpath("templates")
    texts = set()
    for name in ("base", "macros", "overview", "task", "run", "gallery", "plots"):
        source = folder.joinpath(f"{name}.html.j2").read_text(encoding="utf-8")
        texts |= {m[1] for m in re.findall(r"\bt\(\s*(\"|')(.+?)\1", source)}
    assert len(texts) > 80
    sample = {"query_id": 1, "query_text": "q", "predicted": [1], "relevant": [2], "image_id": "a", "img_id": "b"}
    for hook in [GalleryHook, *HOOKS.values()]:
        for direction in ("text_to_image", "image_to_text"):
            view = hook().view({**sample, "caption": "c", "description": "d", "direction": direction}, None)
            texts |= {b.label for b in view.texts} | {p.role for p in view.pictures}
            texts |= {key for key, _ in view.fields if hook is not GalleryHook}
    texts |= {SEEDED, WORST, BEST, *SETTINGS, *WEIGHTS, *(f"{w} weights" for w in WEIGHTS)}
    missing = sorted(t for t in texts if t not in ZH)
    assert missing == []
