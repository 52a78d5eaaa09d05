"""Where each released format keeps its files in a data directory, and where its images are.

A format may be released in several layouts (the authors' own and a benchmark's
repackaging); the first layout whose annotation file exists is used and recorded. Images
are looked up by the name the annotation gives them, in the layout's image folders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.retrieval.released import (
    CaptionSet,
    read_aic_icc,
    read_fgclip_pairs,
    read_flageval_csv,
    read_image_caption_tsv,
    read_r2d2,
    read_xm3600,
    read_xtd10,
)

# AI Challenger names its splits in full.
AIC_SPLITS = {"valid": "validation", "val": "validation"}
Reader = Callable[[Path, Path, Mapping[str, Any]], CaptionSet]


@dataclass(frozen=True)
class Layout:
    """One way a format's files are laid out; patterns take ``{split}`` and ``{language}``."""

    name: str
    annotation: str
    read: Reader
    image_dirs: tuple[str, ...]


def _one(directory: Path, pattern: str) -> Path | None:
    found = sorted(directory.glob(pattern))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError([Problem(str(directory), f"several files match {pattern}: {names}")])
    return found[0] if found else None


def _r2d2(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_r2d2(path)


def _csv(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_flageval_csv(path)


def _pairs(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_fgclip_pairs(path)


def _tsv(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_image_caption_tsv(path)


def _aic(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_aic_icc(path, settings.get("first_images"))


def _xm3600(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    return read_xm3600(path, settings["language"], settings["captions"])


def _xtd10(path: Path, directory: Path, settings: Mapping[str, Any]) -> CaptionSet:
    names = path.parent / "test_image_names.txt"
    if not names.is_file():
        raise InputError([Problem(str(names), "missing file of the XTD10 layout")], "missing data")
    return read_xtd10(names, path)


COCO_DIRS = ("Images", "images", "val2014", "train2014", ".")
LAYOUTS: dict[str, tuple[Layout, ...]] = {
    "coco-cn": (Layout("flageval-csv", "coco_captions_cn_{split}_1k.txt", _csv, COCO_DIRS),),
    "coco-cn-5k": (
        Layout("flageval-csv", "coco_captions_cn_{split}_5k.txt", _csv, COCO_DIRS),
        Layout("fgclip-pairs", "pair.txt", _pairs, COCO_DIRS),
    ),
    "flickr30k-cna": (
        Layout("r2d2", "{split}/flickr30k_cna_{split}.txt", _r2d2, ("Flickr30k-images", "flickr30k-images", "Images")),
        Layout("r2d2", "flickr30k_cna_{split}.txt", _r2d2, ("Flickr30k-images", "flickr30k-images", "Images")),
        Layout("flageval-csv", "flickr30k_{split}_CNA.txt", _csv, ("Images", "Flickr30k-images", "flickr30k-images")),
    ),
    "aic-icc": (
        Layout("ai-challenger", "caption_{aic_split}_annotations*.json", _aic, ("caption_{aic_split}_images*",)),
    ),
    "xm3600": (Layout("crossmodal-3600", "captions.jsonl", _xm3600, ("images", "Images", ".")),),
    "xtd10": (
        Layout("xtd10", "test_1kcaptions_{language}.txt", _xtd10, ("images", "Images", "train2014", ".")),
        Layout("xtd10", "XTD10/test_1kcaptions_{language}.txt", _xtd10, ("images", "Images", "train2014", ".")),
        Layout("flageval-csv", "xtd10_{language}_pair.txt", _csv, ("Images", "images", "train2014", ".")),
    ),
    "image-caption-tsv": (Layout("fgclip-long-caption", "{annotations}", _tsv, (".", "images", "Images")),),
}


# The task options that choose what a format's split holds (recorded with the split).
SPLIT_OPTIONS = {
    "aic-icc": ("first_images",),
    "xm3600": ("language", "captions"),
    "xtd10": ("language",),
    "image-caption-tsv": ("annotations",),
}


def _fill(pattern: str, split: str, settings: Mapping[str, Any]) -> str:
    return pattern.format(
        split=split,
        aic_split=AIC_SPLITS.get(split, split),
        language=settings.get("language") or "zh",
        annotations=settings.get("annotations") or "",
    )


def find_annotation(data_format: str, directory: Path, split: str, settings: Mapping[str, Any]) -> tuple[Layout, Path]:
    """The first layout of ``data_format`` whose annotation file is in ``directory``."""
    if not directory.is_dir():
        raise InputError([Problem(str(directory), "data directory not found")], "missing data")
    if data_format == "image-caption-tsv" and not settings.get("annotations"):
        raise UsageError("this card's format needs the annotations option (the file name)")
    tried = []
    for layout in LAYOUTS[data_format]:
        pattern = _fill(layout.annotation, split, settings)
        tried.append(pattern)
        found = _one(directory, pattern)
        if found is not None and found.is_file():
            return layout, found
    raise InputError([Problem(str(directory), f"no {split} split here: expected {' or '.join(tried)}")], "missing data")


def image_paths(
    layout: Layout, directory: Path, annotation: Path, names: tuple[str, ...], split: str, settings: Mapping[str, Any]
) -> tuple[Path, ...]:
    """The file of every image, or one error listing every image not found."""
    folders: list[Path] = []
    for pattern in layout.image_dirs:
        for base in dict.fromkeys((directory, annotation.parent)):
            if pattern == ".":
                folders.append(base)
                continue
            folders.extend(p for p in sorted(base.glob(_fill(pattern, split, settings))) if p.is_dir())
    folders = list(dict.fromkeys(folders))
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        candidates = [folder / name for folder in folders] + [folder / Path(name).name for folder in folders]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found.append(path)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        where = ", ".join(str(f) for f in folders) or "no image folder"
        raise InputError([Problem(str(annotation), f"{len(missing)} image file(s) not found in {where}: {shown}")])
    return tuple(found)
