"""Finding and loading a caption split: MUGE IC (``IC_{split}.tsv`` + ``IC_{split}.jsonl``)
or AI Challenger (``caption_{split}_annotations*.json`` + a directory of JPEG files)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from muge_eval.caption.gold import CaptionGold, read_aic_gold, read_muge_gold
from muge_eval.cards import describe_local_source
from muge_eval.encoding.images import ImageRows, ReaderImageRows, TableImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import directory_fingerprint, file_sha256, text_fingerprint
from muge_eval.io.image_tsv import open_image
from muge_eval.specs import DatasetInfo

AIC_SPLITS = {"valid": "validation", "validation": "validation", "train": "train", "test": "test_a"}
AIC_FORMAT = "aic-icc"
MUGE_FORMAT = "muge-ic"


def is_aic(data_format: str) -> bool:
    return data_format.startswith(AIC_FORMAT)


@dataclass(frozen=True)
class CaptionImages:
    """A split's images by id: decoded (captioners, the chat judge) or as rows of bytes for
    the shared encoder (the CLIP judge)."""

    load: Callable[[Sequence[str]], list[Image.Image]]
    rows: Callable[[Sequence[str]], ImageRows]
    fingerprint: str


@dataclass(frozen=True)
class CaptionData:
    gold: CaptionGold
    load_images: Callable[[Sequence[str]], list[Image.Image]]
    info: DatasetInfo
    images: CaptionImages | None = None


def _only(directory: Path, pattern: str, what: str, want_dir: bool) -> Path:
    found = sorted(p for p in directory.glob(pattern) if (p.is_dir() if want_dir else p.is_file()))
    if len(found) != 1:
        detail = "none" if not found else ", ".join(p.name for p in found)
        raise InputError([Problem(str(directory), f"expected one {what} matching {pattern}, found {detail}")])
    return found[0]


def find_gold_file(data_format: str, directory: Path, split: str) -> Path:
    if not directory.is_dir():
        raise InputError([Problem(str(directory), "data directory not found")], "missing data")
    if is_aic(data_format):
        return _only(directory, f"caption_{AIC_SPLITS.get(split, split)}_annotations*.json", "annotation file", False)
    path = directory / f"IC_{split}.jsonl"
    if not path.is_file():
        raise InputError([Problem(str(path), f"missing file of the MUGE IC layout (split {split})")], "missing data")
    return path


def read_gold(data_format: str, path: Path, require_references: bool) -> CaptionGold:
    gold = read_aic_gold(path) if is_aic(data_format) else read_muge_gold(path, require_references)
    return gold


def _tsv_images(path: Path, gold: CaptionGold, cache_dir: Path | None) -> CaptionImages:
    from muge_eval.data.image_table import image_table_from_tsv

    sha = file_sha256(path)
    table = image_table_from_tsv(path, "str", sha, cache_dir)
    rows = {image_id: row for row, image_id in enumerate(table["image_id"])}
    missing = [i for i in gold.ids if i not in rows]
    if missing:
        shown = ", ".join(missing[:10])
        raise InputError([Problem(str(path), f"{len(missing)} gold images are not in the image file: {shown}")])
    lines = table["line"]

    def load(ids: Sequence[str]) -> list[Image.Image]:
        wanted = [rows[i] for i in ids]
        try:
            return list(table.select(wanted)["image"])
        except Exception:
            for row in wanted:  # find the corrupt image and name its line
                try:
                    _ = table[row]["image"]
                except Exception as exc:
                    raise InputError(
                        [Problem(str(path), f"cannot decode image: {exc}", lines[row], "image")], "corrupt image"
                    ) from exc
            raise

    def image_rows(ids: Sequence[str]) -> ImageRows:
        return TableImageRows(table.select([rows[i] for i in ids]), list(ids), str(path))

    return CaptionImages(load, image_rows, sha)


def _directory_images(directory: Path) -> CaptionImages:
    def path_of(image_id: str) -> Path:
        for suffix in (".jpg", ".jpeg", ".png"):
            candidate = directory / f"{image_id}{suffix}"
            if candidate.is_file():
                return candidate
        raise InputError([Problem(str(directory), f"no image file for {image_id}")], "missing image")

    def load(ids: Sequence[str]) -> list[Image.Image]:
        return [open_image(path_of(i).read_bytes(), str(path_of(i))) for i in ids]

    def image_rows(ids: Sequence[str]) -> ImageRows:
        return ReaderImageRows(list(ids), lambda i: path_of(i).read_bytes(), str(directory))

    return CaptionImages(load, image_rows, directory_fingerprint(directory, ("*.jpg", "*.jpeg", "*.png")))


def images_beside_gold(data_format: str, gold_path: Path, gold: CaptionGold, cache_dir: Path | None) -> CaptionImages:
    """The images of a gold file's split, found beside it (``IC_valid.jsonl`` ->
    ``IC_valid.tsv``; an AI Challenger annotation file -> its images directory)."""
    if is_aic(data_format):
        split = gold_path.name.removeprefix("caption_").split("_annotations")[0]
        return _directory_images(_only(gold_path.parent, f"caption_{split}_images*", "image directory", True))
    path = gold_path.with_suffix(".tsv")
    if not path.is_file():
        raise InputError([Problem(str(path), f"the images of {gold_path.name} are not beside it")], "missing data")
    return _tsv_images(path, gold, cache_dir)


def load_caption_data(
    data_format: str, split: str, directory: Path | None, cache_dir: Path | None, need_images: bool
) -> CaptionData:
    if directory is None:
        raise UsageError("this task has no bundled data: pass --data-dir with the split's files")
    gold_path = find_gold_file(data_format, directory, split)
    gold = read_gold(data_format, gold_path, require_references=False)
    gold_sha = file_sha256(gold_path)

    def no_images(ids: Sequence[str]) -> list[Image.Image]:
        raise UsageError("images were not loaded for this run")

    load: Callable[[Sequence[str]], list[Image.Image]] = no_images
    images: CaptionImages | None = None
    if is_aic(data_format):
        images_dir = _only(directory, f"caption_{AIC_SPLITS.get(split, split)}_images*", "image directory", True)
        if need_images:
            images = _directory_images(images_dir)
            load = images.load
        fingerprint = text_fingerprint(gold_path.name, gold_sha, images_dir.name)
        files: tuple[str, ...] = (gold_path.name, images_dir.name)
    else:
        images_path = directory / f"IC_{split}.tsv"
        if not images_path.is_file():
            raise InputError([Problem(str(images_path), "missing file of the MUGE IC layout")], "missing data")
        if need_images:
            images = _tsv_images(images_path, gold, cache_dir)
            load, images_sha = images.load, images.fingerprint
        else:
            images_sha = file_sha256(images_path)
        fingerprint = text_fingerprint(images_path.name, images_sha, gold_path.name, gold_sha)
        files = (images_path.name, gold_path.name)
    info = DatasetInfo(
        source=describe_local_source(directory),
        format=data_format,
        split=split,
        fingerprint=fingerprint,
        num_items={"images": len(gold.ids)},
        files=files,
    )
    return CaptionData(gold, load, info, images)
