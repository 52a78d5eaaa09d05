"""Model cards (schema, ``submit --card``) and published reference rows (inline and from a
registry record)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from board_helpers import RETRIEVAL_TASK, make_board, retrieval_run
from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.errors import InputError
from muge_eval.leaderboard.board import load_board
from muge_eval.leaderboard.modelcard import ModelCard, card_from, parse_release_date
from muge_eval.leaderboard.references import ReferenceRow, RegistryReference, reference_from_record
from muge_eval.leaderboard.site import build_site, resolve_references
from muge_eval.results import validate_results

HITS = [0, 1, 2, 3] * 10
CARD = {
    "display_name": "Chinese-CLIP ViT-B/16",
    "organisation": "DAMO Academy",
    "parameters": 188_000_000,
    "weights": "open",
    "licence": "MIT",
    "link": "https://github.com/OFA-Sys/Chinese-CLIP",
    "release_date": "2022-11-02",
    "setting": "zero-shot",
}


def submit_with_card(tmp_path: Path, card: Any, *extra: str) -> tuple[int, str, Path]:
    board = make_board(tmp_path / "board")
    run = retrieval_run(tmp_path / "run", "m", HITS)
    card_file = tmp_path / "card.yaml"
    card_file.write_text(card if isinstance(card, str) else yaml.safe_dump(card), encoding="utf-8")
    result = CliRunner().invoke(main, ["submit", str(run), "--board", str(board), "--card", str(card_file), *extra])
    return result.exit_code, result.output, board


def test_a_card_is_stored_with_the_results_and_read_back(tmp_path: Path) -> None:
    code, output, board = submit_with_card(tmp_path, CARD)
    assert code == 0, output
    stored = json.loads(next((board / "results").glob("*.json")).read_text(encoding="utf-8"))
    assert stored["model"]["card"] == CARD
    card = card_from(stored["model"]["card"])
    assert card.parameters_text == "188M" and card.release_year == pytest.approx(2022 + 305 / 365)


def test_yaml_dates_in_a_card_file_are_accepted(tmp_path: Path) -> None:
    code, output, board = submit_with_card(tmp_path, "release_date: 2022-11-02\nweights: closed\n")
    assert code == 0, output
    stored = json.loads(next((board / "results").glob("*.json")).read_text(encoding="utf-8"))
    assert stored["model"]["card"] == {"release_date": "2022-11-02", "weights": "closed"}


@pytest.mark.parametrize(
    ("card", "field", "message"),
    [
        ({"weights": "half-open"}, "weights", "is not one of"),
        ({"setting": "few-shot"}, "setting", "is not one of"),
        ({"parameters": -5}, "parameters", "less than or equal"),
        ({"parameters": "1.5B"}, "parameters", "not of type 'number'"),
        ({"release_date": "2022-13-01"}, "release_date", "is not a date"),
        ({"release_date": "Nov 2022"}, "release_date", "does not match"),
        ({"link": "javascript:alert(1)"}, "link", "http(s) URL"),
        ({"link": "http://[::1"}, "link", "http(s) URL"),
        ({"size": 3}, "", "Additional properties"),
        ("- a list\n", "", "must be a mapping"),
        ("weights: open\nweights: closed\n", "", "appears twice"),
    ],
)
def test_a_bad_card_is_refused_naming_the_card_and_field(tmp_path: Path, card: Any, field: str, message: str) -> None:
    code, output, board = submit_with_card(tmp_path, card)
    assert code == 1, output
    where = f"{tmp_path / 'card.yaml'}:" + (f" {field}:" if field else "")
    assert where in output and message in output and "Traceback" not in output
    assert not (board / "results").exists() or not list((board / "results").iterdir())


def test_results_files_without_a_card_stay_valid(tmp_path: Path) -> None:
    document = json.loads(retrieval_run(tmp_path / "run", "m", HITS).read_text(encoding="utf-8"))
    assert "card" not in document["model"]
    validate_results(document, "old.json")
    assert not card_from(document["model"].get("card"))


def test_release_dates_accept_day_month_or_year_only() -> None:
    assert str(parse_release_date("2023-05")) == "2023-05-01"
    assert str(parse_release_date("2021")) == "2021-01-01"
    assert parse_release_date("2023-02-30") is None and parse_release_date("") is None


INLINE = {
    "model": "Chinese-CLIP ViT-L/14",
    "setting": "fine-tuned",
    "metrics": {"mean_recall": 70.5, "r1": 50.1},
    "source": "Yang et al. 2022, Chinese CLIP, Table 2",
    "url": "https://arxiv.org/abs/2211.01335",
    "card": {"organisation": "DAMO Academy", "parameters": 406_000_000, "weights": "open"},
}


def test_inline_references_are_read_from_the_board(tmp_path: Path) -> None:
    board = load_board(make_board(tmp_path / "board", references={RETRIEVAL_TASK: [INLINE, {"id": "cn-clip-b16"}]}))
    inline, registry = board.tasks[0].references
    assert isinstance(inline, ReferenceRow) and isinstance(registry, RegistryReference)
    assert inline.metrics == {"mean_recall": 70.5, "r1": 50.1} and inline.card.parameters == 406_000_000
    assert registry.id == "cn-clip-b16"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": {"mean_recall": "high"}}, "metrics.mean_recall: must be a finite number"),
        ({"metrics": {"recall_at_1": 5.0}}, "not a column of this task"),
        ({"source": ""}, "source: is required"),
        ({"url": "ftp://x"}, "url: must be an http(s) URL"),
        ({"setting": "few-shot"}, "setting: must be one of"),
        ({"card": {"weights": "maybe"}}, "card/weights"),
        ({"colour": "red"}, "colour: unknown key"),
    ],
)
def test_bad_inline_references_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    make_board(tmp_path / "board", references={RETRIEVAL_TASK: [{**INLINE, **change}]})
    with pytest.raises(InputError) as error:
        load_board(tmp_path / "board")
    assert message in error.value.format() and "references[0]" in error.value.format()


@dataclass(frozen=True)
class Source:
    citation: str
    url: str


@dataclass(frozen=True)
class PublishedRecord:
    """A record shaped like the published-results registry's (read by attribute only)."""

    id: str
    model: str
    task: str
    metrics: dict[str, float]
    source: Any
    setting: str
    split: str = "valid"
    direction: str = "text_to_image"
    metadata: dict[str, Any] = field(default_factory=dict)


RECORD = PublishedRecord(
    "cn-clip-b16",
    "Chinese-CLIP ViT-B/16",
    RETRIEVAL_TASK,
    {"mean_recall": 63.0, "r1": 42.6, "i2t_r1": 40.0},
    Source("Yang et al. 2022", "https://arxiv.org/abs/2211.01335"),
    "zero-shot",
    metadata={"organization": "DAMO Academy", "params": 188e6, "license": "MIT", "release_date": "2022-11"},
)


def test_a_registry_record_becomes_a_reference_row(tmp_path: Path) -> None:
    row = reference_from_record(RECORD, RETRIEVAL_TASK, "valid", ("mean_recall", "r1", "r5"), "board.yaml")
    assert row.metrics == {"mean_recall": 63.0, "r1": 42.6}  # i2t_r1 is not shown on this board
    assert (row.source, row.url, row.setting, row.direction) == (
        "Yang et al. 2022",
        "https://arxiv.org/abs/2211.01335",
        "zero-shot",
        "text_to_image",
    )
    assert row.card == ModelCard(organisation="DAMO Academy", parameters=188e6, licence="MIT", release_date="2022-11")


def test_registry_ids_are_resolved_through_the_lookup_and_shown(tmp_path: Path) -> None:
    board_dir = make_board(tmp_path / "board", references={RETRIEVAL_TASK: [{"id": "cn-clip-b16"}]})
    run = retrieval_run(tmp_path / "run", "m", HITS)
    assert CliRunner().invoke(main, ["submit", str(run), "--board", str(board_dir)]).exit_code == 0
    board = load_board(board_dir)
    with pytest.raises(InputError, match="no published-results registry is available"):
        resolve_references(board, None)
    with pytest.raises(InputError, match="no published result with id 'cn-clip-b16'"):
        resolve_references(board, lambda ref_id: None)
    other = PublishedRecord("x", "m", "flickr30k-cn-retrieval", {"r1": 1.0}, "a paper", "zero-shot")
    with pytest.raises(InputError, match="not 'muge-retrieval-sample'"):
        resolve_references(board, lambda ref_id: other)
    built = build_site(board, tmp_path / "site", references={"cn-clip-b16": RECORD}.get)
    table = json.loads((tmp_path / "site" / "tasks" / "muge-retrieval-sample.json").read_text(encoding="utf-8"))
    assert [r["kind"] for r in table["rows"]] == ["reference", "submission"]
    assert table["rows"][0]["reference_id"] == "cn-clip-b16" and table["rows"][0]["setting"] == "zero-shot"
    assert [r.is_reference for r in built.view.rows] == [False, True]
