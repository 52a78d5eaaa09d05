"""Annotation files of the Chinese retrieval sets, in the formats they are released in.

Every reader returns a ``CaptionSet``: the images (by the name the file gives them, in
first-mention order) and the texts, each with the image it describes and the line (or
JSON entry) it came from. Every malformed line is reported at once, with its line.
Where the files come from, and which publications use which, is in each card.

- ``r2d2``: R2D2/CCMB's Flickr30k-CNA, ``name#n<TAB>caption`` (image ``name.jpg``).
- ``flageval-csv``: FlagEval CLIPEval's files, a header ``image,caption`` then
  ``name.jpg,caption`` (split at the first ``.jpg,``: captions may hold commas).
- ``fgclip-pairs``: FG-CLIP 2's COCO-CN file, ``COCO_<split>2014_<id>#zhm#<n> caption``.
- ``image-caption-tsv``: FG-CLIP 2's long-caption sets, ``image_path<TAB>caption``.
- ``aic-icc``: AI Challenger's JSON list of ``{"url", "image_id", "caption": [...]}``.
- ``xm3600``: Crossmodal-3600's ``captions.jsonl``, ``{"image/key": k, "zh": {"caption": [...]}}``.
- ``xtd10``: XTD10's ``test_image_names.txt`` and ``test_1kcaptions_<lang>.txt``, line by line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, ProblemList


@dataclass(frozen=True)
class CaptionSet:
    """Images named as their annotation file names them, and texts pointing at them."""

    files: tuple[Path, ...]
    image_names: tuple[str, ...]
    texts: tuple[str, ...]
    text_images: tuple[str, ...]
    text_lines: tuple[int, ...]


class _Builder:
    def __init__(self, path: Path):
        self.path = path
        self.problems = ProblemList(str(path))
        self.images: dict[str, None] = {}
        self.texts: list[str] = []
        self.text_images: list[str] = []
        self.lines: list[int] = []

    def add(self, image: str, text: str, line: int, field: str = "caption") -> None:
        text = text.strip()
        if not image:
            self.problems.add("no image name", line, "image")
        elif not text:
            self.problems.add("empty caption", line, field)
        else:
            self.images.setdefault(image, None)
            self.texts.append(text)
            self.text_images.append(image)
            self.lines.append(line)

    def build(self, *extra: Path) -> CaptionSet:
        self.problems.raise_if_any(f"invalid annotation file {self.path.name}")
        if not self.texts:
            raise InputError([Problem(str(self.path), "no captions")], f"invalid annotation file {self.path.name}")
        return CaptionSet(
            (self.path, *extra), tuple(self.images), tuple(self.texts), tuple(self.text_images), tuple(self.lines)
        )


def read_text_lines(path: Path) -> list[str]:
    """A file's lines (UTF-8, a BOM dropped, a missing file named)."""
    if not path.is_file():
        raise InputError([Problem(str(path), "annotation file not found")], "missing data")
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(path), f"not UTF-8: {exc}")], "invalid annotation file") from exc


def _read_json(path: Path) -> Any:
    lines = read_text_lines(path)
    try:
        return json.loads("\n".join(lines))
    except json.JSONDecodeError as exc:
        problem = Problem(str(path), f"not valid JSON ({exc.msg})", exc.lineno)
        raise InputError([problem], "invalid annotation file") from exc


def read_r2d2(path: Path) -> CaptionSet:
    builder = _Builder(path)
    for number, raw in enumerate(read_text_lines(path), start=1):
        if not raw.strip():
            continue
        name, tab, caption = raw.partition("\t")
        if not tab:
            builder.problems.add("expected 'name#n<TAB>caption'", number)
            continue
        builder.add(name.split("#")[0].strip() + ".jpg", caption, number)
    return builder.build()


def read_flageval_csv(path: Path) -> CaptionSet:
    builder = _Builder(path)
    lines = read_text_lines(path)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or (number == 1 and raw.strip() == "image,caption"):
            continue
        name, sep, caption = raw.strip().partition(".jpg,")
        if not sep:
            builder.problems.add("expected 'name.jpg,caption'", number)
            continue
        builder.add(name + ".jpg", caption, number)
    return builder.build()


_FGCLIP_PAIR = re.compile(r"(COCO_(?:train|val)2014_\d{12})#zhm#\d+\s+(.*)")


def read_fgclip_pairs(path: Path) -> CaptionSet:
    builder = _Builder(path)
    for number, raw in enumerate(read_text_lines(path), start=1):
        if not raw.strip():
            continue
        match = _FGCLIP_PAIR.fullmatch(raw.strip())
        if match is None:
            builder.problems.add("expected 'COCO_<split>2014_<12 digits>#zhm#<n> caption'", number)
            continue
        builder.add(match.group(1) + ".jpg", match.group(2), number)
    return builder.build()


def read_image_caption_tsv(path: Path) -> CaptionSet:
    builder = _Builder(path)
    for number, raw in enumerate(read_text_lines(path), start=1):
        if not raw.strip():
            continue
        name, tab, caption = raw.rstrip().partition("\t")
        if not tab:
            builder.problems.add("expected 'image_path<TAB>caption'", number)
            continue
        builder.add(name.strip(), caption, number)
    return builder.build()


def read_aic_icc(path: Path, first_images: int | None) -> CaptionSet:
    """The first ``first_images`` entries (images) of the annotation list, in file order;
    entries are numbered from 1 in problems."""
    document = _read_json(path)
    if not isinstance(document, list):
        raise InputError([Problem(str(path), "must be a JSON list of annotations")], "invalid annotation file")
    builder = _Builder(path)
    # A shorter file is read whole; the card's pinned image count then names the difference.
    entries = document if first_images is None else document[:first_images]
    for number, entry in enumerate(entries, start=1):
        name = entry.get("image_id") if isinstance(entry, dict) else None
        captions = entry.get("caption") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            builder.problems.add("must be an object with a string image_id", number, "image_id")
            continue
        if name in builder.images:
            builder.problems.add(f"image {name} repeats an earlier entry", number, "image_id")
            continue
        if not isinstance(captions, list) or not captions or not all(isinstance(c, str) for c in captions):
            builder.problems.add(f"must be a non-empty list of strings (image {name})", number, "caption")
            continue
        for caption in captions:
            builder.add(name, caption, number)
    return builder.build()


def read_xm3600(path: Path, language: str, captions: str) -> CaptionSet:
    """``captions``: ``all`` of an image's captions in ``language``, or the ``first`` (as
    CLIP_benchmark's Crossmodal-3600 loader takes)."""
    builder = _Builder(path)
    for number, raw in enumerate(read_text_lines(path), start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as exc:
            builder.problems.add(f"not valid JSON ({exc.msg})", number)
            continue
        key = entry.get("image/key") if isinstance(entry, dict) else None
        texts = entry.get(language, {}).get("caption") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not key:
            builder.problems.add("must be an object with a string image/key", number, "image/key")
            continue
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            builder.problems.add(f"no {language} captions (image {key})", number, f"{language}.caption")
            continue
        for text in texts if captions == "all" else texts[:1]:
            builder.add(key + ".jpg", text, number, f"{language}.caption")
    return builder.build()


def read_xtd10(names_path: Path, captions_path: Path) -> CaptionSet:
    names = [line.strip() for line in read_text_lines(names_path)]
    captions = read_text_lines(captions_path)
    builder = _Builder(captions_path)
    if len(names) != len(captions):
        builder.problems.add(f"has {len(captions)} lines, {names_path.name} has {len(names)}: they pair line by line")
    for number, (name, caption) in enumerate(zip(names, captions, strict=False), start=1):
        builder.add(name, caption, number)
    return builder.build(names_path)
