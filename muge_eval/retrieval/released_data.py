"""A split of a released caption set as retrieval data: gold queries, an image table, ids.

Texts are queries numbered 1, 2, ... in file order. Images keep their own number when
every image's canonical key (``split_pin``) is an integer (COCO and Flickr ids), else
they are numbered 1, 2, ... in first-mention order; either way a run writes ``ids.tsv``
naming every id, so predictions can be read back against the released files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.data.image_table import image_table_from_files
from muge_eval.fingerprint import file_sha256, text_fingerprint
from muge_eval.io.atomic import atomic_write_lines
from muge_eval.retrieval.gold import GoldQueries
from muge_eval.retrieval.released import CaptionSet
from muge_eval.retrieval.released_layouts import Layout, find_annotation, image_paths
from muge_eval.retrieval.split_pin import canonical_image_key


@dataclass(frozen=True)
class ReleasedSplit:
    layout: Layout
    captions: CaptionSet
    gold: GoldQueries
    table: Any
    image_ids: tuple[int, ...]
    fingerprint: str
    # What a run writes as ids.tsv: every image and text id with its name in the files.
    id_names: tuple[tuple[str, int, str], ...]


def _image_numbers(names: tuple[str, ...]) -> list[int]:
    keys = [canonical_image_key(n) for n in names]
    if all(k.isdigit() for k in keys) and len(set(keys)) == len(keys):
        return [int(k) for k in keys]
    return list(range(1, len(names) + 1))


def _files_signature(paths: tuple[Path, ...]) -> str:
    parts = []
    for path in paths:
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return text_fingerprint(*parts)


def _gold(annotation: Path, captions: CaptionSet) -> GoldQueries:
    by_name = dict(zip(captions.image_names, _image_numbers(captions.image_names), strict=True))
    text_ids = tuple(range(1, len(captions.texts) + 1))
    return GoldQueries(
        str(annotation),
        text_ids,
        dict(zip(text_ids, captions.texts, strict=True)),
        {t: frozenset({by_name[i]}) for t, i in zip(text_ids, captions.text_images, strict=True)},
    )


def load_released_gold(data_format: str, directory: Path, split: str, settings: Mapping[str, Any]) -> GoldQueries:
    """The gold queries of a released split (for scoring a submission: no images read)."""
    layout, annotation = find_annotation(data_format, directory, split, settings)
    return _gold(annotation, layout.read(annotation, directory, settings))


def load_released(
    data_format: str, directory: Path, split: str, settings: Mapping[str, Any], cache_dir: Path | None
) -> ReleasedSplit:
    layout, annotation = find_annotation(data_format, directory, split, settings)
    captions = layout.read(annotation, directory, settings)
    paths = image_paths(layout, directory, annotation, captions.image_names, split, settings)
    numbers = _image_numbers(captions.image_names)
    by_name = dict(zip(captions.image_names, numbers, strict=True))
    gold = _gold(annotation, captions)
    text_ids = gold.ids
    files_sha = [file_sha256(f) for f in captions.files]
    fingerprint = text_fingerprint(*(f.name for f in captions.files), *files_sha, _files_signature(paths))
    first_line: dict[str, int] = {}
    for name, line in zip(captions.text_images, captions.text_lines, strict=True):
        first_line.setdefault(name, line)
    table = image_table_from_files(
        numbers, list(paths), [first_line[n] for n in captions.image_names], fingerprint, cache_dir
    )
    id_names = tuple(("image", n, name) for name, n in by_name.items()) + tuple(
        ("text", t, f"{annotation.name}:{line}") for t, line in zip(text_ids, captions.text_lines, strict=True)
    )
    return ReleasedSplit(layout, captions, gold, table, tuple(numbers), fingerprint, id_names)


def write_id_names(rows: tuple[tuple[str, int, str], ...]) -> Callable[[Path], None]:
    """A PredictionFile writer of ``ids.tsv``: ``kind<TAB>id<TAB>name`` per line."""

    def write(path: Path) -> None:
        atomic_write_lines(path, lambda: (f"{kind}\t{number}\t{' '.join(name.split())}" for kind, number, name in rows))

    return write
