"""Checking one ranked list in a submission line: exactly ``k`` distinct JSON integers.

Shared by the task types whose submissions rank ids (retrieval's item ids, classification's
class indices). The checks stay linear in the list's length, whatever a hostile line holds,
and every message quotes the user's values cut short.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from muge_eval.errors import ProblemList, brief
from muge_eval.io.jsonl import is_json_int


def check_ranked_ids(
    values: Any,
    k: int,
    *,
    field: str,
    subject: str,
    line: int,
    problems: ProblemList,
    noun: str = "ids",
    allowed: range | None = None,
) -> bool:
    """True when ``values`` is a list of exactly ``k`` distinct integers (each in ``allowed``
    when given); otherwise every problem is added to ``problems`` with ``line`` and ``field``,
    each message ending with ``subject`` (say ``query 7``)."""
    if not isinstance(values, list):
        problems.add(f"must be a list, got {type(values).__name__} ({subject})", line, field)
        return False
    # The common case in one pass of C-level calls: cheap even for millions of lists.
    if (
        len(values) == k
        and set(map(type, values)) == {int}
        and len(set(values)) == k
        and (allowed is None or not values or (min(values) >= allowed.start and max(values) < allowed.stop))
    ):
        return True
    ok = True
    if len(values) != k:
        problems.add(f"must hold exactly {k} {noun}, got {len(values)} ({subject})", line, field)
        ok = False
    bad = [(rank, v) for rank, v in enumerate(values, start=1) if not is_json_int(v)]
    for rank, value in bad:
        problems.add(f"rank {rank} is {brief(value)}, not an integer ({subject})", line, field)
    if bad:
        return False
    if allowed is not None:
        outside = sorted({v for v in values if v not in allowed})
        if outside:
            span = f"{allowed.start}..{allowed.stop - 1}"
            problems.add(f"{noun} {brief(outside)} are not in {span} ({subject})", line, field)
            ok = False
    # Counting once keeps this linear in the length of the list, however long a line is.
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        problems.add(f"duplicate {noun} {brief(repeated)} ({subject})", line, field)
        ok = False
    return ok
