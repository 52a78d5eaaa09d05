"""Caption submissions: MUGE jsonl ``{"image_id", "text"}`` lines and the AI Challenger
JSON list of ``{"image_id", "caption"}``.

Every problem is reported at once with its line (or list index) and field: unparsable
lines, missing, repeated and unknown image ids, captions that are not strings. An empty
caption is allowed; it is counted and the count is reported with the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.caption.gold import CaptionGold, aic_image_id, iter_image_lines
from muge_eval.errors import ProblemList, brief, shorten
from muge_eval.io.jsonl import read_json_document

# Where an image id was given: (line, field) -- a JSONL line, or an index of a JSON list.
Where = tuple[int | None, str]


@dataclass(frozen=True)
class CaptionSubmission:
    file: str
    captions: Mapping[str, str]
    empty: int

    def empty_ids(self) -> list[str]:
        return [i for i, text in self.captions.items() if not text.strip()]


def _finish(
    path: Path,
    gold: CaptionGold,
    captions: dict[str, str],
    where: dict[str, Where],
    seen: set[str],
    problems: ProblemList,
) -> CaptionSubmission:
    """Unknown and missing ids; ``seen`` holds every id that had a line, valid or not."""
    gold_ids = set(gold.ids)
    unknown = [i for i in where if i not in gold_ids]
    for image_id in unknown:
        line, field = where[image_id]
        problems.add(f"image {shorten(image_id)} is not in the gold file {Path(gold.file).name}", line, field)
    missing = [i for i in gold.ids if i not in seen]
    if missing:
        shown = ", ".join(missing[:20]) + (f" ... ({len(missing) - 20} more)" if len(missing) > 20 else "")
        problems.add(f"{len(missing)} gold images have no caption: {shown}", None, "image_id")
    problems.raise_if_any(f"invalid submission {path.name}")
    ordered = {i: captions[i] for i in gold.ids}
    return CaptionSubmission(str(path), ordered, sum(1 for t in ordered.values() if not t.strip()))


def read_muge_submission(path: Path, gold: CaptionGold) -> CaptionSubmission:
    problems = ProblemList(str(path))
    captions: dict[str, str] = {}
    where: dict[str, Where] = {}
    for number, obj, image_id in iter_image_lines(path, "submission", problems):
        where[image_id] = (number, "image_id")
        if "text" not in obj:
            problems.add(f"missing (image {image_id})", number, "text")
            continue
        text = obj["text"]
        if not isinstance(text, str):
            problems.add(f"must be a string, got {type(text).__name__} (image {image_id})", number, "text")
            continue
        captions[image_id] = text
    return _finish(path, gold, captions, where, set(where), problems)


def read_aic_submission(path: Path, gold: CaptionGold) -> CaptionSubmission:
    document: Any = read_json_document(path, "submission")
    problems = ProblemList(str(path))
    if not isinstance(document, list):
        problems.add("must be a JSON list of {image_id, caption} objects")
        problems.raise_if_any("invalid submission")
    captions: dict[str, str] = {}
    where: dict[str, Where] = {}
    first_index: dict[str, int] = {}
    for index, entry in enumerate(document):
        at = f"[{index}]"
        if not isinstance(entry, dict):
            problems.add("must be an object", None, at)
            continue
        raw_id = entry.get("image_id")
        if not isinstance(raw_id, str) or not raw_id:
            problems.add(f"must be a non-empty string, got {brief(raw_id)}", None, f"{at}.image_id")
            continue
        image_id = aic_image_id(raw_id)
        if image_id in first_index:
            problems.add(f"image {raw_id} also at [{first_index[image_id]}]", None, f"{at}.image_id")
            continue
        first_index[image_id] = index
        where[image_id] = (None, f"{at}.image_id")
        text = entry.get("caption")
        if not isinstance(text, str):
            problems.add(f"must be a string, got {type(text).__name__} (image {raw_id})", None, f"{at}.caption")
            continue
        captions[image_id] = text
    return _finish(path, gold, captions, where, set(first_index), problems)
