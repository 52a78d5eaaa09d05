"""Image sets the encoder reads: rows of undecoded image bytes with ids and line numbers.

Two kinds: a `datasets` table (columns ``image_id``, ``image``, ``line``), which is how
task data is loaded, and a list of ids with a reader of each id's bytes (generated images,
a submission). Both give raw bytes to the decoding workers and decoded PIL images to
adapters that take images (``ImageBatch``), and say where a row came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PIL import Image

from muge_eval.errors import InputError, Problem
from muge_eval.io.image_tsv import open_image


class ImageRows(Protocol):
    """Rows of images, addressed by position."""

    ids: Sequence[int | str]
    source: str

    def __len__(self) -> int: ...

    def raw(self, start: int, stop: int) -> list[bytes | None]:
        """Undecoded bytes of rows [start, stop) (None where a row has none)."""

    def images(self, start: int, stop: int) -> list[Image.Image]:
        """Decoded images of rows [start, stop); a corrupt one is an InputError naming it."""

    def line(self, row: int) -> int:
        """The 1-based line of the source file that holds ``row``."""


class TableImageRows:
    """A `datasets` table of images (lazily decoded), as the task loaders build them."""

    def __init__(self, table: Any, ids: Sequence[int | str], source: str):
        self.table = table
        self.ids = ids
        self.source = source
        self._raw: Any = None
        self._lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, start: int, stop: int) -> list[bytes | None]:
        if self._raw is None:
            import datasets

            undecoded = self.table.select_columns(["image"]).cast_column("image", datasets.Image(decode=False))
            self._raw = undecoded
        records = self._raw[start:stop]["image"]
        return [r.get("bytes") if isinstance(r, dict) else None for r in records]

    def images(self, start: int, stop: int) -> list[Image.Image]:
        try:
            return list(self.table[start:stop]["image"])
        except Exception:  # a corrupt image somewhere in the slice: find which, name its line
            for row in range(start, stop):
                try:
                    _ = self.table[row]["image"]
                except Exception as exc:
                    raise InputError(
                        [Problem(self.source, f"cannot decode image: {exc}", self.line(row), "image")],
                        "corrupt image",
                    ) from exc
            raise

    def line(self, row: int) -> int:
        if self._lines is None:
            self._lines = list(self.table["line"]) if "line" in self.table.column_names else []
        return int(self._lines[row]) if self._lines else row + 1

    def __getstate__(self) -> dict[str, Any]:
        # The undecoded view is rebuilt in a worker; the table itself pickles by reference.
        return {**self.__dict__, "_raw": None}


class ReaderImageRows:
    """Images given by id with a function that reads one id's bytes (files, a submission)."""

    def __init__(self, ids: Sequence[int | str], read: Callable[[Any], bytes], source: str):
        self.ids = ids
        self.read = read
        self.source = source

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, start: int, stop: int) -> list[bytes | None]:
        return [self.read(image_id) for image_id in self.ids[start:stop]]

    def images(self, start: int, stop: int) -> list[Image.Image]:
        return [
            open_image(data or b"", f"{self.source} (image {image_id})")
            for image_id, data in zip(self.ids[start:stop], self.raw(start, stop), strict=True)
        ]

    def line(self, row: int) -> int:
        return row + 1
