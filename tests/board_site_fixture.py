"""A built site with hostile strings everywhere a results file or a board can put them
(model names, model cards, captions, prompts, reference rows), shared by the site and
browser tests."""

from __future__ import annotations

from pathlib import Path

import yaml
from board_helpers import (
    CAPTION_TASK,
    POOL,
    RETRIEVAL_TASK,
    T2I_TASK,
    caption_run,
    make_board,
    retrieval_run,
    t2i_run,
    write_image_tsv,
)
from click.testing import CliRunner

from muge_eval.cli.main import main

IMG_XSS = "<img src=x onerror=alert(1)>"
SCRIPT_XSS = "</script><script>alert(2)</script>"
FORMULA = '=HYPERLINK("http://evil")'
CAPTION_XSS = '<img src=x onerror="window.__xss=3">'
REFERENCE_XSS = "<script>window.__xss=4</script>"
PROMPT_XSS = '"><svg onload=alert(5)>'
CARD_XSS = "<b onmouseover=alert(6)>Org</b>"
SOURCE_XSS = "</li><script>alert(7)</script>"
REF_MODEL = "<img src=y onerror=alert(8)>Ref-CLIP"
ALPHA_DISPLAY = "Alpha CLIP"
# model -> retrieval rank codes (see retrieval_samples), t2i (fid, is_mean) or None,
# caption rouge_l per image or None, model card or None
MODELS = {
    "alpha": (
        [0] * 30 + [3] * 10,
        (30.0, 9.0),
        [60.0, 40.0, 50.0, 50.0],
        {
            "display_name": ALPHA_DISPLAY,
            "organisation": CARD_XSS,
            "parameters": 150_000_000,
            "weights": "open",
            "licence": '"><img src=x onerror=alert(9)>',
            "link": 'https://example.com/alpha?"><script>alert(10)</script>',
            "release_date": "2022-11-02",
            "setting": "zero-shot",
        },
    ),
    IMG_XSS: (
        [0] * 20 + [3] * 20,
        (10.0, 5.0),
        None,
        {
            "organisation": "Org B",
            "parameters": 3_000_000_000,
            "weights": "closed",
            "release_date": "2023-05",
            "setting": "fine-tuned",
        },
    ),
    SCRIPT_XSS: ([0] * 10 + [2] * 10 + [3] * 20, None, [70.0, 70.0, 70.0, 70.0], None),
    FORMULA: ([3] * 40, (50.0, 2.0), None, None),
}
# By how many tasks, then average rank: alpha (3 tasks) first although IMG_XSS (2 tasks)
# has the better average rank.
OVERVIEW_ORDER = ["alpha", IMG_XSS, SCRIPT_XSS, FORMULA]
PROMPTS = {f"t{i}": (PROMPT_XSS if i == 0 else f"prompt {i}") for i in range(6)}
REFERENCES = {
    RETRIEVAL_TASK: [
        {
            "model": REF_MODEL,
            "setting": "fine-tuned",
            "metrics": {"mean_recall": 60.0, "r1": 40.0},
            "source": SOURCE_XSS,
            "url": "https://example.com/paper",
            "card": {"organisation": "Ref Lab", "parameters": 188_000_000, "weights": "open", "release_date": "2022"},
        }
    ]
}


def write_data(directory: Path) -> Path:
    """One data folder with every image the galleries name (retrieval pool, captioned
    images, real text-to-image images)."""
    write_image_tsv(directory / "MR_valid_imgs.tsv", POOL)
    write_image_tsv(directory / "IC_valid.tsv", [f"c{i}" for i in range(4)])
    write_image_tsv(directory / "T2I_valid.img.tsv", list(PROMPTS))
    return directory


def build_board_site(tmp_path: Path) -> Path:
    """Submit every model (with its card) and build the site; returns the site folder."""
    board = make_board(tmp_path / "board", with_t2i=True, with_caption=True, references=REFERENCES)
    runner = CliRunner()
    for index, (name, (hits, t2i, rouge, card)) in enumerate(MODELS.items()):
        card_args: list[str] = []
        if card is not None:
            card_file = tmp_path / f"card{index}.yaml"
            card_file.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
            card_args = ["--card", str(card_file)]
        runs = [retrieval_run(tmp_path / f"r{index}", name, hits, seed=index)]
        if t2i is not None:
            runs.append(t2i_run(tmp_path / f"t{index}", name, *t2i, prompts=PROMPTS))
        if rouge is not None:
            captions = [CAPTION_XSS if i == 1 else f"caption {i} by {name}" for i in range(len(rouge))]
            runs.append(caption_run(tmp_path / f"c{index}", name, rouge, captions, REFERENCE_XSS))
        for run in runs:
            result = runner.invoke(main, ["submit", str(run), "--board", str(board), *card_args])
            assert result.exit_code == 0, result.output
    data = write_data(tmp_path / "data")
    site = tmp_path / "site"
    data_args = [f"--data-dir={task}={data}" for task in (RETRIEVAL_TASK, T2I_TASK, CAPTION_TASK)]
    result = runner.invoke(main, ["leaderboard", "build", str(board), "--out", str(site), *data_args])
    assert result.exit_code == 0, result.output
    return site
