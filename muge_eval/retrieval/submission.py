"""Retrieval submissions: the official scorer's validation rules, without its bugs.

Rules (REFERENCE.md): every line one JSON object with an integer query id and a list of
exactly 10 distinct integer ids; every gold query present. Unlike the official script we
list every problem at once, name the right line, accept a UTF-8 BOM, and refuse a query
that appears twice (naming both lines) instead of letting the later line win.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import ProblemList, brief
from muge_eval.io.atomic import atomic_write_lines
from muge_eval.io.jsonl import is_json_int, iter_json_lines
from muge_eval.io.ranked_list import check_ranked_ids
from muge_eval.retrieval.gold import GoldQueries
from muge_eval.retrieval.schema import TOP_K, DirectionFields

MAX_LISTED_IDS = 50


@dataclass(frozen=True)
class RetrievalSubmission:
    file: str
    direction: str
    rankings: Mapping[int, tuple[int, ...]]
    ignored_queries: int


def _key(obj: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in obj:
            return key
    return None


def read_submission(path: Path, gold: GoldQueries, fields: DirectionFields) -> RetrievalSubmission:
    """Parse and check a submission against the gold queries; raise every problem at once."""
    problems = ProblemList(str(path))
    rankings: dict[int, tuple[int, ...]] = {}
    first_line: dict[int, int] = {}
    id_name = fields.query_keys[0]
    list_name = fields.list_keys[0]
    for line in iter_json_lines(path, "submission"):
        if line.error:
            problems.add(line.error, line.number)
            continue
        obj = line.value
        if not isinstance(obj, dict):
            problems.add("each line must be a JSON object", line.number)
            continue
        id_key = _key(obj, fields.query_keys)
        list_key = _key(obj, fields.list_keys)
        if id_key is None:
            problems.add("missing (" + " or ".join(fields.query_keys) + ")", line.number, id_name)
            continue
        query_id = obj[id_key]
        if not is_json_int(query_id):
            problems.add(f"must be an integer, got {brief(query_id)}", line.number, id_key)
            continue
        if list_key is None:
            problems.add(f"missing (query {query_id})", line.number, list_name)
            continue
        if query_id in first_line:
            problems.add(f"query {query_id} also on line {first_line[query_id]}", line.number, id_key)
            continue
        first_line[query_id] = line.number
        checked = check_ranked_ids(
            obj[list_key], TOP_K, field=list_key, subject=f"query {query_id}", line=line.number, problems=problems
        )
        if checked:
            rankings[query_id] = tuple(obj[list_key])
    missing = [q for q in gold.ids if q not in first_line]
    if missing:
        shown = ", ".join(map(str, missing[:MAX_LISTED_IDS])) + (" ..." if len(missing) > MAX_LISTED_IDS else "")
        problems.add(f"{len(missing)} gold queries have no line: {shown}", None, id_name)
    problems.raise_if_any(f"invalid submission {path.name}")
    gold_ids = set(gold.ids)
    ignored = sum(1 for q in first_line if q not in gold_ids)
    return RetrievalSubmission(str(path), fields.direction, rankings, ignored)


def prediction_file_name(direction: str) -> str:
    """The file a run writes one direction's rankings to."""
    return "predictions.jsonl" if direction == "text_to_image" else f"predictions_{direction}.jsonl"


def write_rankings_jsonl(
    rankings: Mapping[int, Sequence[int]], fields: DirectionFields, spelling: int
) -> Callable[[Path], None]:
    """A PredictionFile writer: one official submission line per query, in the layout's
    spelling of the keys (0: MUGE's query_id/item_ids, 1: Chinese-CLIP's)."""
    id_key = fields.query_keys[min(spelling, len(fields.query_keys) - 1)]
    list_key = fields.list_keys[min(spelling, len(fields.list_keys) - 1)]

    def write(path: Path) -> None:
        atomic_write_lines(path, lambda: (json.dumps({id_key: q, list_key: list(ids)}) for q, ids in rankings.items()))

    return write
