"""Every validation rule of the official MR scorer, and none of its bugs (REFERENCE.md)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from retrieval_helpers import official_scores, write_jsonl

from muge_eval.errors import InputError
from muge_eval.plugins import build_registries
from muge_eval.retrieval.gold import read_gold_queries
from muge_eval.retrieval.schema import IMAGE_TO_TEXT, TEXT_TO_IMAGE
from muge_eval.retrieval.scoring import score_rankings
from muge_eval.retrieval.submission import read_submission
from muge_eval.tasktypes.loading import load_task

TEN = list(range(1, 11))


@pytest.fixture()
def gold_path(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "gold.jsonl",
        [
            {"query_id": 1, "query_text": "红色连衣裙", "item_ids": [1, 50]},
            {"query_id": 2, "query_text": "蓝色T恤", "item_ids": [7]},
            {"query_id": 3, "query_text": "空", "item_ids": []},
        ],
    )


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line(query_id: object, ids: object, id_key: str = "query_id", list_key: str = "item_ids") -> str:
    return json.dumps({id_key: query_id, list_key: ids})


def problems_of(gold: Path, submission: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        read_submission(submission, read_gold_queries(gold), TEXT_TO_IMAGE)
    return [p.format() for p in info.value.problems]


def valid_lines() -> list[str]:
    return [line(1, TEN), line(2, TEN), line(3, TEN)]


def test_valid_submission_scores_like_the_official_algorithm(gold_path: Path, tmp_path: Path) -> None:
    sub = write_lines(
        tmp_path / "sub.jsonl",
        [line(1, [50, *range(2, 11)]), line(2, [*range(11, 15), 7, *range(20, 25)]), line(3, TEN)],
    )
    gold = read_gold_queries(gold_path)
    result = score_rankings(gold, read_submission(sub, gold, TEXT_TO_IMAGE))
    expected = official_scores(
        {1: [1, 50], 2: [7], 3: []}, {1: [50, *range(2, 11)], 2: [*range(11, 15), 7, *range(20, 25)], 3: TEN}
    )
    for key, value in expected.items():
        assert result.metrics[key] == value  # bit for bit, not approximately
    assert result.metrics["r1"] == pytest.approx(100 / 3)
    assert result.metrics["r5"] == pytest.approx(200 / 3)


def test_missing_file(gold_path: Path, tmp_path: Path) -> None:
    assert "submission not found" in problems_of(gold_path, tmp_path / "nope.jsonl")[0]


def test_line_that_is_not_json(gold_path: Path, tmp_path: Path) -> None:
    lines = valid_lines()
    lines[1] = "{not json"
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", lines))
    assert any(":2: not valid JSON" in p for p in problems)


def test_blank_line_is_an_error(gold_path: Path, tmp_path: Path) -> None:
    lines = valid_lines()
    lines.insert(1, "")
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", lines))
    assert any(":2: blank line" in p for p in problems)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (json.dumps({"item_ids": TEN}), ":2: query_id: missing"),
        (json.dumps({"query_id": 2}), ":2: item_ids: missing (query 2)"),
        (line("2", TEN), ":2: query_id: must be an integer, got '2'"),
        (line(True, TEN), ":2: query_id: must be an integer, got True"),
        (line(2.0, TEN), ":2: query_id: must be an integer, got 2.0"),
        (line(2, "1,2,3"), ":2: item_ids: must be a list, got str (query 2)"),
        (line(2, TEN[:9]), ":2: item_ids: must hold exactly 10 ids, got 9 (query 2)"),
        (line(2, [*TEN, 11]), ":2: item_ids: must hold exactly 10 ids, got 11 (query 2)"),
        (line(2, [*TEN[:9], "10"]), ":2: item_ids: rank 10 is '10', not an integer (query 2)"),
        (line(2, [*TEN[:9], False]), ":2: item_ids: rank 10 is False, not an integer (query 2)"),
        (line(2, [*TEN[:9], 1]), ":2: item_ids: duplicate ids [1] (query 2)"),
        ("[1, 2]", ":2: each line must be a JSON object"),
    ],
)
def test_each_rule_names_the_right_line_and_field(gold_path: Path, tmp_path: Path, bad: str, expected: str) -> None:
    lines = valid_lines()
    lines[1] = bad
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", lines))
    assert any(expected in p for p in problems), problems


def test_string_id_on_first_line_is_a_message_not_a_crash(gold_path: Path, tmp_path: Path) -> None:
    lines = valid_lines()
    lines[0] = line("1", TEN)
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", lines))
    assert any(":1: query_id: must be an integer" in p for p in problems)


def test_missing_gold_queries_are_all_listed(gold_path: Path, tmp_path: Path) -> None:
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", [line(2, TEN)]))
    assert any("2 gold queries have no line: 1, 3" in p for p in problems)


def test_duplicate_query_line_names_both_lines(gold_path: Path, tmp_path: Path) -> None:
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", [*valid_lines(), line(2, TEN)]))
    assert any(":4: query_id: query 2 also on line 2" in p for p in problems)


def test_every_problem_is_reported_at_once(gold_path: Path, tmp_path: Path) -> None:
    problems = problems_of(gold_path, write_lines(tmp_path / "s.jsonl", ["x", line("a", TEN), line(3, TEN[:3])]))
    assert len(problems) == 4  # bad JSON, bad id, wrong count, missing queries 1 and 2


def test_utf8_bom_is_accepted(gold_path: Path, tmp_path: Path) -> None:
    sub = tmp_path / "bom.jsonl"
    sub.write_text("\ufeff" + "\n".join(valid_lines()) + "\n", encoding="utf-8")
    gold = read_gold_queries(gold_path)
    assert set(read_submission(sub, gold, TEXT_TO_IMAGE).rankings) == {1, 2, 3}


def test_extra_queries_are_ignored_and_counted(gold_path: Path, tmp_path: Path) -> None:
    sub = write_lines(tmp_path / "s.jsonl", [*valid_lines(), line(99, TEN)])
    gold = read_gold_queries(gold_path)
    parsed = read_submission(sub, gold, TEXT_TO_IMAGE)
    assert parsed.ignored_queries == 1
    assert score_rankings(gold, parsed).metrics["r1"] == pytest.approx(100 / 3)


def test_empty_relevant_list_counts_as_a_miss_and_ids_outside_the_pool_are_misses(
    gold_path: Path, tmp_path: Path
) -> None:
    sub = write_lines(
        tmp_path / "s.jsonl", [line(1, list(range(101, 111))), line(2, [7, *range(201, 210)]), line(3, TEN)]
    )
    gold = read_gold_queries(gold_path)
    metrics = score_rankings(gold, read_submission(sub, gold, TEXT_TO_IMAGE)).metrics
    assert metrics["r10"] == pytest.approx(100 / 3)


def test_chinese_clip_spelling_is_accepted(gold_path: Path, tmp_path: Path) -> None:
    sub = write_lines(tmp_path / "s.jsonl", [line(q, TEN, "text_id", "image_ids") for q in (1, 2, 3)])
    gold = read_gold_queries(gold_path)
    assert len(read_submission(sub, gold, TEXT_TO_IMAGE).rankings) == 3


def test_empty_gold_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "gold.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="the gold file has no queries"):
        read_gold_queries(empty)


def test_more_than_twenty_problems_end_with_a_count(gold_path: Path, tmp_path: Path) -> None:
    sub = write_lines(tmp_path / "s.jsonl", ["x"] * 30)
    with pytest.raises(InputError) as info:
        read_submission(sub, read_gold_queries(gold_path), TEXT_TO_IMAGE)
    text = info.value.format()
    assert "31 problem(s)" in text and "... and 11 more problem(s)" in text


def test_image_to_text_fields(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "g.jsonl", [{"image_id": 5, "text_ids": [1]}])
    del gold  # image-to-text gold is built by inversion; only the submission keys matter here
    texts = write_jsonl(tmp_path / "t.jsonl", [{"text_id": i, "text": "x", "image_ids": [5]} for i in range(1, 12)])
    from muge_eval.retrieval.gold import invert_gold

    inverted = invert_gold(read_gold_queries(texts))
    sub = write_lines(tmp_path / "s.jsonl", [json.dumps({"image_id": 5, "text_ids": list(range(11, 1, -1))})])
    metrics = score_rankings(inverted, read_submission(sub, inverted, IMAGE_TO_TEXT)).metrics
    assert metrics["r1"] == 100.0


def test_tianchi_objects() -> None:
    task = load_task(build_registries(), "muge-retrieval-sample")
    ok = task.tianchi_success({"r1": 10.0, "r5": 20.0, "r10": 30.0, "mean_recall": 20.0, "map10": 1.0})
    assert ok == {
        "success": True,
        "score": 20.0,
        "scoreJson": {"score": 20.0, "mean_recall": 20.0, "r1": 10.0, "r5": 20.0, "r10": 30.0},
    }
    assert task.tianchi_failure("bad") == {
        "errorDetail": "bad",
        "errorMsg": "bad",
        "score": 0,
        "scoreJson": {},
        "success": False,
    }


def test_random_submissions_match_the_plain_official_algorithm(tmp_path: Path) -> None:
    rng = random.Random(7)
    pool = list(range(500))
    gold_rows = [{"query_id": q, "item_ids": rng.sample(pool, rng.randint(0, 6))} for q in range(211)]
    gold_path = write_jsonl(tmp_path / "g.jsonl", gold_rows)
    predictions = {q["query_id"]: rng.sample(pool, 10) for q in gold_rows}
    for q in predictions:  # plant some hits at random ranks
        if gold_rows[q]["item_ids"] and rng.random() < 0.5:
            target = rng.choice(gold_rows[q]["item_ids"])
            if target not in predictions[q]:
                predictions[q][rng.randrange(10)] = target
    sub = write_jsonl(tmp_path / "s.jsonl", [{"query_id": q, "item_ids": p} for q, p in predictions.items()])
    gold = read_gold_queries(gold_path)
    metrics = score_rankings(gold, read_submission(sub, gold, TEXT_TO_IMAGE)).metrics
    expected = official_scores({r["query_id"]: r["item_ids"] for r in gold_rows}, predictions)
    assert {k: metrics[k] for k in expected} == expected
