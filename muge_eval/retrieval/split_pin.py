"""Pinned split definitions: what "COCO-CN test" means, as counts and a checksum.

A split's images are named by canonical keys: a COCO file name
``COCO_val2014_000000461245.jpg`` becomes ``461245`` (the COCO image id, the integer
Chinese-CLIP's files use), any other file name loses its directory and extension, and an
integer id is written in decimal. The checksum is the sha256 of the sorted set of keys,
one per line (UTF-8, ``\\n`` between keys, none after the last). A card pins, per split,
the number of images and texts and that checksum; a run records what it loaded and
whether it matches, so a published number and a measured one on another split
definition are never compared silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_COCO = re.compile(r"COCO_(?:train|val|test)2014_(\d{12})")
_IMAGE_SUFFIX = re.compile(r"\.(jpe?g|png|webp|bmp|gif)$", re.IGNORECASE)
PIN_FIELDS = ("images", "texts", "images_sha256")


def canonical_image_key(name: str | int) -> str:
    """The key a split checksum is made of (see the module docstring)."""
    if isinstance(name, int):
        return str(name)
    stem = _IMAGE_SUFFIX.sub("", name.replace("\\", "/").rsplit("/", 1)[-1])
    coco = _COCO.fullmatch(stem)
    if coco:
        return str(int(coco.group(1)))
    return str(int(stem)) if stem.isdigit() else stem


def images_sha256(keys: Iterable[str | int]) -> str:
    """sha256 of the sorted set of canonical keys, one per line."""
    unique = sorted({canonical_image_key(k) for k in keys})
    return hashlib.sha256("\n".join(unique).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SplitPin:
    """What a card says a split is; a field left None is not pinned."""

    images: int | None = None
    texts: int | None = None
    images_sha256: str | None = None

    def recorded(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PIN_FIELDS if getattr(self, name) is not None}


def parse_pins(value: Any) -> dict[str, SplitPin]:
    """A card's ``split_pins:`` option: ``{split: {images: N, texts: N, images_sha256: hex}}``."""
    if not isinstance(value, Mapping):
        raise ValueError("must map split names to {images, texts, images_sha256}")
    pins: dict[str, SplitPin] = {}
    for split, fields in value.items():
        if not isinstance(fields, Mapping) or not fields:
            raise ValueError(f"split {split!r}: must be a mapping of {', '.join(PIN_FIELDS)}")
        unknown = sorted(set(fields) - set(PIN_FIELDS))
        if unknown:
            raise ValueError(f"split {split!r}: unknown field(s) {', '.join(map(str, unknown))}")
        counts = {}
        for name in ("images", "texts"):
            number = fields.get(name)
            if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
                raise ValueError(f"split {split!r}: {name} must be a positive integer")
            counts[name] = number
        digest = fields.get("images_sha256")
        if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ValueError(f"split {split!r}: images_sha256 must be 64 lower-case hex digits")
        pins[str(split)] = SplitPin(counts["images"], counts["texts"], digest)
    return pins


@dataclass(frozen=True)
class SplitCheck:
    """What a run loaded, against the card's pin."""

    loaded: SplitPin
    pinned: SplitPin | None

    @property
    def differences(self) -> list[str]:
        if self.pinned is None:
            return []
        out = []
        for name in PIN_FIELDS:
            want, got = getattr(self.pinned, name), getattr(self.loaded, name)
            if want is not None and want != got:
                out.append(f"{name} {got} (pinned {want})")
        return out

    @property
    def matches(self) -> bool | None:
        return None if self.pinned is None else not self.differences

    def recorded(self) -> dict[str, Any]:
        return {
            **self.loaded.recorded(),
            "pinned": None if self.pinned is None else self.pinned.recorded(),
            "matches_pinned": self.matches,
        }


def check_split(image_keys: Iterable[str | int], texts: int, pin: SplitPin | None) -> SplitCheck:
    keys = list(image_keys)
    return SplitCheck(SplitPin(len(set(keys)), texts, images_sha256(keys)), pin)
