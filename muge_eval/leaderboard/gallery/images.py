"""Pictures for galleries: read by id from a task's data (base64 TSVs or image files named
by id), shrunk to small JPEG thumbnails, and written under a size budget."""

from __future__ import annotations

import binascii
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from muge_eval.io.atomic import atomic_write_lines
from muge_eval.io.image_tsv import decode_base64, encode_base64

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# A thumbnail above this many bytes is written again at a lower quality.
MAX_THUMBNAIL_BYTES = 16_000
QUALITIES = (80, 60, 40)
# Images larger than this (pixels) are not decoded for a thumbnail.
MAX_SOURCE_PIXELS = 40_000_000


def read_tsv_images(paths: Iterable[Path], wanted: set[str]) -> dict[str, bytes]:
    """The images of ``wanted`` ids found in ``id<TAB>base64`` files; a line that is not
    one (a text TSV, bad base64) is skipped, and so is anything but a regular file (a FIFO
    would block the build). Stops reading when every id is found."""
    found: dict[str, bytes] = {}
    for path in paths:
        if len(found) == len(wanted):
            break
        if not path.is_file():
            continue
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    image_id, tab, payload = line.partition("\t")
                    image_id = image_id.strip().removeprefix("\ufeff")
                    if not tab or image_id not in wanted or image_id in found:
                        continue
                    try:
                        found[image_id] = decode_base64(payload)
                    except (binascii.Error, ValueError):
                        continue
                    if len(found) == len(wanted):
                        break
        except OSError:
            continue
    return found


def _image_files(directory: Path, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for folder in [directory, *sorted(p for p in directory.iterdir() if p.is_dir())]:
        for image_id in sorted(wanted - set(found)):
            if "/" in image_id or "\\" in image_id or image_id.startswith("."):
                continue
            for suffix in IMAGE_SUFFIXES:
                path = folder / f"{image_id}{suffix}"
                if path.is_file():
                    found[image_id] = path.read_bytes()
                    break
    return found


def read_data_images(directory: Path | None, split: str, wanted: set[str]) -> dict[str, bytes]:
    """Images of ``wanted`` ids from a task's data folder: its base64 TSVs (those naming the
    split first) and image files named by id in it or its subfolders."""
    if directory is None or not directory.is_dir() or not wanted:
        return {}
    tables = sorted(directory.glob("*.tsv"), key=lambda p: (split not in p.name, p.name))
    found = read_tsv_images(tables, wanted)
    if len(found) < len(wanted):
        found.update(_image_files(directory, wanted - set(found)))
    return found


def thumbnail(data: bytes, max_px: int) -> tuple[bytes, int, int] | None:
    """A JPEG at most ``max_px`` on a side (and about MAX_THUMBNAIL_BYTES), or None when the
    bytes are not an image this can decode."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None
            image.draft("RGB", (max_px, max_px))
            small = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    small.thumbnail((max_px, max_px))
    encoded = b""
    for quality in QUALITIES:
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=quality, optimize=True)
        encoded = buffer.getvalue()
        if len(encoded) <= MAX_THUMBNAIL_BYTES:
            break
    return encoded, small.width, small.height


def write_image_tsv(path: Path, images: Mapping[str, bytes]) -> None:
    """``id<TAB>base64`` lines, written atomically (a run's gallery images on a board)."""
    atomic_write_lines(path, lambda: (f"{key}\t{encode_base64(images[key])}" for key in sorted(images)))


@dataclass(frozen=True)
class Placed:
    src: str
    width: int
    height: int


@dataclass
class ThumbnailStore:
    """Writes thumbnails under ``site/img``, each once, until ``budget`` bytes are used."""

    site: Path
    max_px: int
    budget: int
    used: int = 0
    refused: int = 0
    written: int = 0
    placed: dict[str, Placed | None] = field(default_factory=dict)

    def place(self, folder: str, key: str, data: bytes | None) -> Placed | None:
        """The thumbnail of ``data`` in ``img/<folder>/`` (None: no data, not an image, or
        over the budget). ``key`` names the image within its folder."""
        name = f"{folder}/{hashlib.sha256(key.encode()).hexdigest()[:20]}.jpg"
        if name in self.placed:
            return self.placed[name]
        result = None
        small = thumbnail(data, self.max_px) if data is not None else None
        if small is not None:
            encoded, width, height = small
            if self.used + len(encoded) > self.budget:
                self.refused += 1
                self.placed[name] = None
                return None
            path = self.site / "img" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoded)
            self.used += len(encoded)
            self.written += 1
            result = Placed(f"img/{name}", width, height)
        self.placed[name] = result
        return result
