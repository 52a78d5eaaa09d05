"""Loading a classification split for a run: its gold labels, its images as rows for the
shared encoder, and a fingerprint of every byte read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from muge_eval.cards import TaskCard, describe_local_source
from muge_eval.classification.gold import ClassificationGold, load_gold
from muge_eval.encoding.images import ReaderImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import file_sha256
from muge_eval.io.image_tsv import open_image
from muge_eval.specs import DatasetInfo


class FolderImageReader:
    """Reads an image's bytes by its position in ImageFolder order. A plain object, so it
    travels to the decoding worker processes."""

    def __init__(self, root: Path, paths: Sequence[str]):
        self.root = root
        self.paths = tuple(paths)

    def __call__(self, position: int) -> bytes:
        path = self.root / self.paths[position]
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InputError([Problem(str(path), f"cannot read image: {exc.strerror}")], "missing image") from exc


@dataclass(frozen=True)
class ClassificationData:
    """A split's gold labels and its images (ids: positions 0..n-1, see ``adapters``)."""

    gold: ClassificationGold
    rows: ReaderImageRows
    info: DatasetInfo


def gold_fingerprint(gold: ClassificationGold) -> str:
    """The label file's bytes and every image's id and class (what scoring reads)."""
    digest = hashlib.sha256()
    digest.update(f"{Path(gold.label_file).name}\0{file_sha256(Path(gold.label_file))}\n".encode())
    for image_id, label in zip(gold.image_ids, gold.labels, strict=True):
        digest.update(f"{image_id}\0{label}\n".encode())
    return "sha256:" + digest.hexdigest()


def data_fingerprint(gold: ClassificationGold) -> str:
    """The label file's bytes and every image's id, class and bytes (what a run reads)."""
    digest = hashlib.sha256()
    digest.update(gold_fingerprint(gold).encode())
    root = Path(gold.root)
    for image_id in gold.image_ids:
        digest.update(f"{image_id}\0{file_sha256(root / image_id)}\n".encode())
    return "sha256:" + digest.hexdigest()


class FolderImageRows(ReaderImageRows):
    """The gold images as encoder rows (ids: positions), read from their files; an image
    that cannot be decoded is named by its path."""

    def __init__(self, gold: ClassificationGold):
        super().__init__(
            list(range(len(gold.image_ids))), FolderImageReader(Path(gold.root), gold.image_ids), gold.root
        )
        self.paths = gold.image_ids

    def images(self, start: int, stop: int) -> list[Image.Image]:
        root = Path(self.source)
        return [
            open_image(data or b"", str(root / path))
            for path, data in zip(self.paths[start:stop], self.raw(start, stop), strict=True)
        ]


def load_classification_data(
    card: TaskCard, split: str, data_dir: Path | None, label_file: str, limit: int | None = None
) -> ClassificationData:
    """The split (its first ``limit`` images with ``--limit``) ready to encode."""
    if data_dir is None:
        raise UsageError(f"task {card.name!r} has no bundled data: pass --data-dir (the folder holding {split}/)")
    gold = load_gold(data_dir, split, label_file).first(limit)
    info = DatasetInfo(
        source=describe_local_source(data_dir),
        format=card.data.format,
        split=split,
        fingerprint=data_fingerprint(gold),
        num_items={"images": len(gold.image_ids), "classes": gold.num_classes},
        files=(Path(gold.label_file).name, f"{split}/"),
    )
    return ClassificationData(gold, FolderImageRows(gold), info)
