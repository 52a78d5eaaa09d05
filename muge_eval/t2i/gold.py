"""MUGE T2I files: descriptions ``T2I_{split}.text.tsv`` (or ``.txt.tsv``) with
``img_id<TAB>description`` lines, and real images ``T2I_{split}.img.tsv`` (``img_id<TAB>base64 PNG``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from muge_eval.errors import InputError, Problem, ProblemList
from muge_eval.fingerprint import file_sha256, text_fingerprint
from muge_eval.io.jsonl import UTF8_BOM, open_text

TEXT_SUFFIXES = (".text.tsv", ".txt.tsv")


@dataclass(frozen=True)
class T2IGold:
    """The descriptions of one split and, when present, its real images."""

    file: str
    ids: tuple[str, ...]
    texts: dict[str, str]
    real_images: Path | None
    fingerprint: str
    real_sha256: str | None = None

    def limited(self, limit: int | None) -> T2IGold:
        if limit is None or limit >= len(self.ids):
            return self
        kept = self.ids[:limit]
        return dataclasses.replace(self, ids=kept, texts={i: self.texts[i] for i in kept})


def description_file(data_dir: Path, split: str) -> Path:
    if not data_dir.is_dir():
        raise InputError([Problem(str(data_dir), "data directory not found")], "missing data")
    for suffix in TEXT_SUFFIXES:
        path = data_dir / f"T2I_{split}{suffix}"
        if path.is_file():
            return path
    names = " or ".join(f"T2I_{split}{s}" for s in TEXT_SUFFIXES)
    raise InputError([Problem(str(data_dir), f"no {split} descriptions here: expected {names}")], "missing data")


def real_images_beside(descriptions: Path) -> Path | None:
    """``T2I_x.img.tsv`` beside ``T2I_x.text.tsv`` / ``T2I_x.txt.tsv``, when it exists."""
    name = descriptions.name
    for suffix in TEXT_SUFFIXES:
        if name.endswith(suffix):
            candidate = descriptions.with_name(name[: -len(suffix)] + ".img.tsv")
            return candidate if candidate.is_file() else None
    return None


def read_descriptions(path: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    if not path.is_file():
        raise InputError([Problem(str(path), "description file not found")], "missing file")
    problems = ProblemList(str(path))
    ids: list[str] = []
    texts: dict[str, str] = {}
    lines: dict[str, int] = {}
    content = open_text(path, "description file")  # one leading byte-order mark dropped
    rows = content.split("\n")
    for number, raw in enumerate(rows, start=1):
        raw = raw.rstrip("\r")
        if not raw:
            if number < len(rows):
                problems.add("blank line", number)
            continue
        image_id, tab, text = raw.partition("\t")
        image_id, text = image_id.strip(), text.strip()
        if not tab or not image_id:
            problems.add("expected 'img_id<TAB>description'", number)
        elif UTF8_BOM in image_id:
            # A second byte-order mark (one is dropped above) would make every submission
            # look wrong for this id; it is the description file's fault.
            problems.add("a stray byte-order mark (U+FEFF) in the id", number, "img_id")
        elif not text:
            problems.add("empty description", number, "description")
        elif image_id in lines:
            problems.add(f"img_id {image_id} repeats line {lines[image_id]}", number, "img_id")
        else:
            lines[image_id] = number
            ids.append(image_id)
            texts[image_id] = text
    problems.raise_if_any(f"invalid description file {path.name}")
    if not ids:
        raise InputError([Problem(str(path), "no descriptions")])
    return tuple(ids), texts


def load_gold(descriptions: Path, real_images: Path | None) -> T2IGold:
    ids, texts = read_descriptions(descriptions)
    parts = [descriptions.name, file_sha256(descriptions)]
    real_sha256 = None
    if real_images is not None:
        if not real_images.is_file():
            raise InputError([Problem(str(real_images), "real image file not found")], "missing file")
        real_sha256 = file_sha256(real_images)
        parts += [real_images.name, real_sha256]
    return T2IGold(str(descriptions), ids, texts, real_images, text_fingerprint(*parts), real_sha256)
