"""``id<TAB>base64`` image files, the format of every MUGE and Chinese-CLIP image set."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PIL import Image

from muge_eval.errors import InputError, Problem
from muge_eval.io.pixels import IMAGE_DECODE_ERRORS, decode_failure, decode_image

IdT = TypeVar("IdT", int, str)


@dataclass(frozen=True)
class EncodedImage:
    line: int
    image_id: int | str
    data: bytes


def decode_base64(text: str) -> bytes:
    """urlsafe decoding also accepts the standard alphabet; padding is restored if dropped."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_"))


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def iter_image_tsv(path: Path, parse_id: Callable[[str], IdT]) -> Iterator[EncodedImage]:
    """Yield every image of a TSV; raise one InputError listing every malformed line."""
    if not path.is_file():
        raise InputError([Problem(str(path), "image file not found")], "missing file")
    problems: list[Problem] = []
    seen: dict[int | str, int] = {}
    with path.open("r", encoding="utf-8", newline="\n") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip("\r\n").removeprefix("\ufeff") if number == 1 else raw.rstrip("\r\n")
            if not raw:
                problems.append(Problem(str(path), "blank line", number))
                continue
            id_text, tab, payload = raw.partition("\t")
            if not tab:
                problems.append(Problem(str(path), "expected 'id<TAB>base64'", number))
                continue
            if "\ufeff" in id_text:  # a second byte-order mark: this file's fault, not a submission's
                problems.append(Problem(str(path), "a stray byte-order mark (U+FEFF) in the id", number, "id"))
                continue
            try:
                image_id: int | str = parse_id(id_text.strip())
            except ValueError:
                problems.append(Problem(str(path), f"bad image id {id_text[:40]!r}", number, "id"))
                continue
            try:
                data = decode_base64(payload)
            except (binascii.Error, ValueError):
                problems.append(Problem(str(path), "not valid base64", number, "image"))
                continue
            if image_id in seen:
                problems.append(Problem(str(path), f"image id {image_id} repeats line {seen[image_id]}", number, "id"))
                continue
            seen[image_id] = number
            yield EncodedImage(number, image_id, data)
    if problems:
        raise InputError(problems, f"invalid image file {path.name}")


def open_image(data: bytes, where: str) -> Image.Image:
    """Decode image bytes, turning a corrupt image into an InputError naming where it came from."""
    try:
        return decode_image(data)
    except IMAGE_DECODE_ERRORS as exc:
        raise InputError([Problem(where, f"cannot decode image: {decode_failure(exc)}")], "corrupt image") from exc
