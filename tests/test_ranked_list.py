"""The ranked-list check shared by retrieval and classification submissions."""

from __future__ import annotations

import time

from muge_eval.errors import ProblemList
from muge_eval.io.ranked_list import check_ranked_ids


def messages(values: object, **options: object) -> list[str]:
    problems = ProblemList("sub.jsonl")
    settings = {"k": 3, "field": "labels", "subject": "image a", "line": 4, "problems": problems, **options}
    ok = check_ranked_ids(values, **settings)  # type: ignore[arg-type]
    assert ok == (not problems.problems)
    return [p.message for p in problems.problems]


def test_a_good_list_passes_and_every_fault_is_named() -> None:
    assert messages([2, 0, 1], allowed=range(3)) == []
    assert messages("x") == ["must be a list, got str (image a)"]
    assert messages([1, 2]) == ["must hold exactly 3 ids, got 2 (image a)"]
    assert messages([1, "2", 3.5]) == [
        "rank 2 is '2', not an integer (image a)",
        "rank 3 is 3.5, not an integer (image a)",
    ]
    assert messages([1, 1, 9], noun="class indices", allowed=range(5)) == [
        "class indices [9] are not in 0..4 (image a)",
        "duplicate class indices [1] (image a)",
    ]


def test_a_huge_hostile_list_costs_linear_time_and_a_short_message() -> None:
    values = list(range(300_000)) * 2
    started = time.perf_counter()
    found = messages(values, noun="class indices", allowed=range(10))
    assert time.perf_counter() - started < 2.0
    assert found[0] == "must hold exactly 3 class indices, got 600000 (image a)"
    assert all(len(m) < 200 for m in found)
