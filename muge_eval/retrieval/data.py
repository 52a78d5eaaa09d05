"""Loading a retrieval split from a local directory (the MUGE or Chinese-CLIP layout, or
a caption set's released files: ``released_data``), a saved `datasets` directory, or a
`datasets` hub repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.cards import TaskCard, describe_local_source
from muge_eval.data.image_table import check_columns, image_table_from_tsv, load_hub_table, load_saved_table
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import directory_fingerprint, file_sha256, text_fingerprint
from muge_eval.io.jsonl import is_json_int
from muge_eval.retrieval.gold import GoldQueries, read_gold_queries
from muge_eval.retrieval.released_data import load_released
from muge_eval.retrieval.released_layouts import LAYOUTS
from muge_eval.retrieval.schema import layouts_for
from muge_eval.specs import DatasetInfo


@dataclass(frozen=True)
class RetrievalData:
    """Gold queries and the image pool (a `datasets.Dataset`: image_id, image, line)."""

    gold: GoldQueries
    images: Any
    image_ids: tuple[int, ...]
    info: DatasetInfo
    # Where the images came from, as problems about one image should name it.
    images_source: str = ""
    # The names in the released files of the ids (kind, id, name), when ids were assigned.
    id_names: tuple[tuple[str, int, str], ...] = ()


def released_format(card: TaskCard, data_dir: Path, split: str) -> bool:
    """Whether the card's split is read from released caption files (not the MUGE or
    Chinese-CLIP layout, which a COCO-CN directory may also hold)."""
    if card.data.format not in LAYOUTS:
        return False
    return not any((data_dir / lay.texts).is_file() for lay in layouts_for(split))


def find_local_files(data_dir: Path, split: str) -> tuple[str, Path, Path]:
    """(layout name, images TSV, texts JSONL) of whichever layout ``data_dir`` holds."""
    if not data_dir.is_dir():
        raise InputError([Problem(str(data_dir), "data directory not found")], "missing data")
    for layout in layouts_for(split):
        images, texts = data_dir / layout.images, data_dir / layout.texts
        if images.is_file() or texts.is_file():
            for path in (images, texts):
                if not path.is_file():
                    raise InputError([Problem(str(path), f"missing file of the {layout.name} layout")], "missing data")
            return layout.name, images, texts
    expected = " or ".join(f"{lay.images} + {lay.texts}" for lay in layouts_for(split))
    raise InputError([Problem(str(data_dir), f"no {split} split here: expected {expected}")], "missing data")


def _gold_from_table(table: Any, where: str) -> GoldQueries:
    check_columns(table, ("text_id", "text", "image_ids"), where)
    ids: list[int] = []
    texts: dict[int, str] = {}
    relevant: dict[int, frozenset[int]] = {}
    for row, record in enumerate(table, start=1):
        text_id = record["text_id"]
        if not is_json_int(text_id) or text_id in texts:
            raise InputError([Problem(where, f"bad or repeated text_id {text_id!r}", row, "text_id")])
        ids.append(text_id)
        texts[text_id] = record["text"]
        relevant[text_id] = frozenset(record["image_ids"] or ())
    if not ids:
        raise InputError([Problem(where, "no texts")])
    return GoldQueries(where, tuple(ids), texts, relevant)


def _load_released(
    card: TaskCard, split: str, data_dir: Path, cache_dir: Path | None, settings: Mapping[str, Any]
) -> RetrievalData:
    loaded = load_released(card.data.format, data_dir, split, settings, cache_dir)
    info = DatasetInfo(
        source=describe_local_source(data_dir),
        format=f"{card.data.format}/{loaded.layout.name}",
        split=split,
        fingerprint=loaded.fingerprint,
        num_items={"queries": len(loaded.gold.ids), "images": len(loaded.image_ids)},
        files=tuple(
            str(f.relative_to(data_dir)) if f.is_relative_to(data_dir) else f.name for f in loaded.captions.files
        ),
    )
    return RetrievalData(loaded.gold, loaded.table, loaded.image_ids, info, loaded.gold.file, loaded.id_names)


def load_retrieval_data(
    card: TaskCard,
    split: str,
    data_dir: Path | None,
    cache_dir: Path | None,
    settings: Mapping[str, Any] | None = None,
) -> RetrievalData:
    source = card.data.source
    if source == "local":
        if data_dir is None:
            raise UsageError(f"task {card.name!r} has no bundled data: pass --data-dir with the {split} files")
        if released_format(card, data_dir, split):
            return _load_released(card, split, data_dir, cache_dir, settings or {})
        layout, images_path, texts_path = find_local_files(data_dir, split)
        gold = read_gold_queries(texts_path)
        images_sha = file_sha256(images_path)
        table = image_table_from_tsv(images_path, "int", images_sha, cache_dir)
        fingerprint = text_fingerprint(images_path.name, images_sha, texts_path.name, file_sha256(texts_path))
        files: tuple[str, ...] = (images_path.name, texts_path.name)
        where = describe_local_source(data_dir)
        images_source = str(images_path)
        data_format = f"{card.data.format}/{layout}"
    elif source == "saved":
        location = data_dir or card.data_location()
        if location is None:
            raise UsageError(f"task {card.name!r}: pass --data-dir with the saved dataset")
        table = load_saved_table(location, "images", split)
        gold = _gold_from_table(load_saved_table(location, "texts", split), f"{location}/texts")
        fingerprint = directory_fingerprint(location, ("*.arrow", "*.json"))
        files, where, data_format = (), f"saved:{location}", card.data.format
        images_source = f"{location}/images"
    else:
        hub_id = str(card.data.location)
        table = load_hub_table(hub_id, "images", split, card.data.revision)
        gold = _gold_from_table(load_hub_table(hub_id, "texts", split, card.data.revision), hub_id)
        fingerprint = text_fingerprint("hub", hub_id, str(card.data.revision), table._fingerprint)
        files, where, data_format = (), f"hub:{hub_id}", card.data.format
        images_source = f"{hub_id} (images)"
    check_columns(table, ("image_id", "image"), where)
    image_ids = tuple(int(i) for i in table["image_id"])
    info = DatasetInfo(
        source=where,
        format=data_format,
        split=split,
        fingerprint=fingerprint,
        num_items={"queries": len(gold.ids), "images": len(image_ids)},
        files=files,
    )
    return RetrievalData(gold, table, image_ids, info, images_source)
