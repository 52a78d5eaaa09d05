"""Caption gold files: MUGE ``IC_{split}.jsonl`` and AI Challenger annotation JSON."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import ProblemList, brief
from muge_eval.io.jsonl import iter_json_lines, read_json_document

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class CaptionGold:
    """Image ids in file order and their reference captions (None on a split without them)."""

    file: str
    ids: tuple[str, ...]
    references: Mapping[str, tuple[str, ...]] | None

    @property
    def has_references(self) -> bool:
        return self.references is not None

    def subset(self, ids: tuple[str, ...]) -> CaptionGold:
        refs = None if self.references is None else {i: self.references[i] for i in ids}
        return CaptionGold(self.file, ids, refs)


def aic_image_id(value: str) -> str:
    """AI Challenger names images ``<hash>.jpg``; predictions may drop the extension."""
    lowered = value.lower()
    for suffix in IMAGE_SUFFIXES:
        if lowered.endswith(suffix):
            return value[: -len(suffix)]
    return value


def _check_references(value: Any, problems: ProblemList, line: int | None, field: str, image_id: str) -> bool:
    if not isinstance(value, list) or not value:
        problems.add(f"must be a non-empty list of reference captions (image {image_id})", line, field)
        return False
    bad = [i for i, text in enumerate(value) if not isinstance(text, str)]
    for index in bad:
        problems.add(f"reference {index + 1} is {brief(value[index])}, not a string (image {image_id})", line, field)
    return not bad


def iter_image_lines(path: Path, what: str, problems: ProblemList) -> Iterator[tuple[int, dict[str, Any], str]]:
    """``(line number, object, image_id)`` for each JSONL line that is an object with a
    non-empty string ``image_id`` not seen before; every other line becomes a problem."""
    first_line: dict[str, int] = {}
    for line in iter_json_lines(path, what):
        if line.error:
            problems.add(line.error, line.number)
            continue
        obj = line.value
        if not isinstance(obj, dict):
            problems.add("each line must be a JSON object", line.number)
            continue
        image_id = obj.get("image_id")
        if not isinstance(image_id, str) or not image_id:
            problems.add(f"must be a non-empty string, got {brief(image_id)}", line.number, "image_id")
            continue
        if image_id in first_line:
            problems.add(f"image {image_id} also on line {first_line[image_id]}", line.number, "image_id")
            continue
        first_line[image_id] = line.number
        yield line.number, obj, image_id


def read_muge_gold(path: Path, require_references: bool = False) -> CaptionGold:
    """``{"image_id": "<hex>", "text": ["caption", ...]}`` per line; test lines carry only the id."""
    problems = ProblemList(str(path))
    ids: list[str] = []
    refs: dict[str, tuple[str, ...]] = {}
    with_text = without_text = 0
    for number, obj, image_id in iter_image_lines(path, "gold file", problems):
        ids.append(image_id)
        if "text" not in obj:
            without_text += 1
            continue
        with_text += 1
        if _check_references(obj["text"], problems, number, "text", image_id):
            refs[image_id] = tuple(obj["text"])
    if with_text and without_text:
        problems.add(f"{without_text} lines have no 'text' while {with_text} do", None, "text")
    if not ids and not problems:
        problems.add("no images")
    if require_references and not with_text and ids:
        problems.add("this split has no reference captions, so it cannot be scored", None, "text")
    problems.raise_if_any(f"invalid gold file {path.name}")
    return CaptionGold(str(path), tuple(ids), refs if with_text else None)


def read_aic_gold(path: Path) -> CaptionGold:
    """AI Challenger release: a JSON list of ``{"url", "image_id": "<hash>.jpg", "caption": [...]}``."""
    document = read_json_document(path, "gold file")
    problems = ProblemList(str(path))
    if not isinstance(document, list):
        problems.add("must be a JSON list of annotations")
        problems.raise_if_any("invalid gold file")
    ids: list[str] = []
    refs: dict[str, tuple[str, ...]] = {}
    for index, entry in enumerate(document):
        where = f"[{index}]"
        if not isinstance(entry, dict):
            problems.add("must be an object", None, where)
            continue
        raw_id = entry.get("image_id")
        if not isinstance(raw_id, str) or not raw_id:
            problems.add(f"must be a non-empty string, got {brief(raw_id)}", None, f"{where}.image_id")
            continue
        image_id = aic_image_id(raw_id)
        if image_id in refs:
            problems.add(f"image {raw_id} repeats an earlier entry", None, f"{where}.image_id")
            continue
        if _check_references(entry.get("caption"), problems, None, f"{where}.caption", raw_id):
            ids.append(image_id)
            refs[image_id] = tuple(entry["caption"])
    if not document:
        problems.add("no images")
    problems.raise_if_any(f"invalid gold file {path.name}")
    return CaptionGold(str(path), tuple(ids), refs)
