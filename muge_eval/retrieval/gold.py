"""Gold queries of a retrieval split: texts, and the relevant images of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, ProblemList, brief
from muge_eval.io.jsonl import is_json_int, iter_json_lines
from muge_eval.retrieval.schema import QUERY_ID_KEYS, QUERY_RELEVANT_KEYS, QUERY_TEXT_KEYS


@dataclass(frozen=True)
class GoldQueries:
    """Queries in file order. ``relevant`` is None for a split without answers (test)."""

    file: str
    ids: tuple[int, ...]
    texts: Mapping[int, str]
    relevant: Mapping[int, frozenset[int]] | None

    @property
    def has_answers(self) -> bool:
        return self.relevant is not None


def _first_key(obj: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in obj:
            return key
    return None


def read_gold_queries(path: Path, require_answers: bool = False) -> GoldQueries:
    """Parse a queries/texts JSONL in either layout, listing every problem."""
    problems = ProblemList(str(path))
    ids: list[int] = []
    texts: dict[int, str] = {}
    relevant: dict[int, frozenset[int]] = {}
    first_line: dict[int, int] = {}
    lines_with_answers = 0
    for line in iter_json_lines(path, "gold file"):
        if line.error:
            problems.add(line.error, line.number)
            continue
        obj = line.value
        if not isinstance(obj, dict):
            problems.add("each line must be a JSON object", line.number)
            continue
        id_key = _first_key(obj, QUERY_ID_KEYS)
        if id_key is None:
            problems.add("missing", line.number, "query_id")
            continue
        query_id = obj[id_key]
        if not is_json_int(query_id):
            problems.add(f"must be an integer, got {brief(query_id)}", line.number, id_key)
            continue
        if query_id in first_line:
            problems.add(f"query {query_id} repeats line {first_line[query_id]}", line.number, id_key)
            continue
        first_line[query_id] = line.number
        text_key = _first_key(obj, QUERY_TEXT_KEYS)
        text = obj.get(text_key, "") if text_key else ""
        if not isinstance(text, str):
            problems.add("must be a string", line.number, text_key)
            continue
        list_key = _first_key(obj, QUERY_RELEVANT_KEYS)
        if list_key is not None:
            items = obj[list_key]
            if not isinstance(items, list) or not set(map(type, items)) <= {int}:
                problems.add("must be a list of integers", line.number, list_key)
                continue
            relevant[query_id] = frozenset(items)
            lines_with_answers += 1
        ids.append(query_id)
        texts[query_id] = text
    problems.raise_if_any(f"invalid gold file {path.name}")
    if not ids:
        raise InputError([Problem(str(path), "the gold file has no queries")], "invalid gold file")
    if 0 < lines_with_answers < len(ids):
        raise InputError(
            [Problem(str(path), f"only {lines_with_answers} of {len(ids)} queries list their relevant ids")],
            "invalid gold file",
        )
    if require_answers and not lines_with_answers:
        raise InputError(
            [Problem(str(path), "no query lists relevant ids (a test split cannot be scored)", field="item_ids")],
            "gold file has no answers",
        )
    return GoldQueries(str(path), tuple(ids), texts, relevant if lines_with_answers else None)


def invert_gold(gold: GoldQueries, image_ids: tuple[int, ...] | None = None) -> GoldQueries:
    """Image-to-text gold: each image that some text is relevant to, with those texts.

    Queries are the images in pool order when ``image_ids`` is given, else first-mention order.
    """
    if gold.relevant is None:
        raise InputError([Problem(gold.file, "no relevant ids, cannot build image-to-text gold")])
    texts_of: dict[int, set[int]] = {}
    for text_id in gold.ids:
        for image_id in sorted(gold.relevant[text_id]):
            texts_of.setdefault(image_id, set()).add(text_id)
    order = [i for i in image_ids if i in texts_of] if image_ids is not None else list(texts_of)
    return GoldQueries(gold.file, tuple(order), {}, {i: frozenset(texts_of[i]) for i in order})
