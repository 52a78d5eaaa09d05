"""Decoding images a user hands us: bounded by a pixel limit, checked to the last pixel.

Pillow refuses an image whose header claims more than twice ``Image.MAX_IMAGE_PIXELS``
(``DecompressionBombError``) before it allocates anything; every decoder here applies the
same limit, so an image is bad on the GPU path exactly when it is bad on Pillow's.
``Image.verify()`` alone checks chunk structure and CRCs, not the pixel stream: a PNG with a
corrupt deflate stream under a correct CRC passes it, so validation decodes fully.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from PIL import Image

# What Pillow raises on malformed input: besides OSError and the bomb error, damaged
# headers surface as IndexError, struct.error, EOFError, SyntaxError, TypeError...
IMAGE_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
    MemoryError,
    Image.DecompressionBombError,
)

# JPEG start-of-frame markers (C0-CF, except DHT C4, JPG C8 and DAC CC) hold the size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def max_pixels() -> int | None:
    """The most pixels an image may have: Pillow's bomb limit (twice ``MAX_IMAGE_PIXELS``)."""
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else 2 * int(limit)


def size_problem(width: int, height: int) -> str | None:
    """Why an image of this size is refused, or None."""
    limit = max_pixels()
    if width < 1 or height < 1:
        return f"claims {width}x{height} pixels"
    if limit is not None and width * height > limit:
        return f"claims {width}x{height} pixels, over the limit of {limit:,}"
    return None


def jpeg_size(data: Any) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, walking its segments; None if not found.

    ``data`` is anything that exposes bytes through the buffer protocol (bytes, a uint8
    numpy array); nothing is decoded or copied.
    """
    view = memoryview(data).cast("B")
    end = len(view)
    if end < 4 or view[0] != 0xFF or view[1] != 0xD8:
        return None
    position = 2
    while position + 4 <= end:
        if view[position] != 0xFF:
            return None
        marker = view[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE_MARKERS:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        length = (view[position + 2] << 8) | view[position + 3]
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if position + 9 > end:
                return None
            height = (view[position + 5] << 8) | view[position + 6]
            width = (view[position + 7] << 8) | view[position + 8]
            return width, height
        position += 2 + length
    return None


def jpeg_within_limit(data: Any) -> bool:
    """True when the JPEG's header gives a size within the pixel limit (unknown sizes fail)."""
    size = jpeg_size(data)
    return size is not None and size_problem(*size) is None


def decode_image(data: bytes) -> Image.Image:
    """Every pixel of ``data`` decoded, within the limit; raises one of ``IMAGE_DECODE_ERRORS``."""
    image = Image.open(io.BytesIO(data))  # refuses a bomb from the header, before decoding
    problem = size_problem(*image.size)
    if problem:
        raise ValueError(problem)
    image.load()
    return image


def image_problem(data: bytes, expected_format: str | None = None, size: tuple[int, int] | None = None) -> str | None:
    """What is wrong with one image, or None: readable to the last pixel, the format and the
    size wanted. Format and size are checked from the header, before any pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, image_size = image.format, image.size
            if expected_format is not None and image_format != expected_format:
                return f"is {image_format}, expected {expected_format}"
            if size is not None and image_size != size:
                return f"is {image_size[0]}x{image_size[1]}, expected {size[0]}x{size[1]}"
            problem = size_problem(*image_size)
            if problem:
                return f"not a readable image: {problem}"
            image.verify()  # chunk structure and CRCs
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # the pixel stream itself
    except IMAGE_DECODE_ERRORS as exc:
        return f"not a readable image: {decode_failure(exc)}"
    return None


def decode_failure(exc: BaseException) -> str:
    """Pillow's own words for an OSError or ValueError; a plain phrase for the rest."""
    if isinstance(exc, (OSError, ValueError, SyntaxError, Image.DecompressionBombError)) and str(exc):
        return str(exc)
    return "damaged image data"
