"""Decoding images in parallel: a torch DataLoader over whole batches of table rows.

Each worker reads raw JPEG/PNG bytes of its rows (from the Arrow table, no decoding by
`datasets`, or from files),
decodes and resizes them with the model's ``ImageTransform`` and hands back a uint8 array,
so the main process only copies bytes to the device. A corrupt image does not stop the
batch: its row is marked bad and the caller decides (fail with the list, or skip).

With the transform's ``decode="torchvision"``, a worker decodes only the non-JPEG images
(PIL, as above) and hands each JPEG over as its raw bytes, for ``device_decode`` to decode
on the model's device in the main process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.data.image_transform import CPU_DECODE, ImageTransform
from muge_eval.io.pixels import IMAGE_DECODE_ERRORS

DECODE_ERRORS = IMAGE_DECODE_ERRORS


JPEG_SIGNATURE = b"\xff\xd8\xff"


def is_jpeg(data: bytes) -> bool:
    return data[:3] == JPEG_SIGNATURE


@dataclass(frozen=True)
class PixelBatch:
    """Rows ``[start, start + len(ok))``.

    ``pixels`` holds uint8 ``(n, r, r, 3)`` (numpy or a pinned torch tensor; zeros where
    ``ok`` is False). When the JPEGs are left to the device, it holds only the rows listed
    in ``pixel_rows`` (decoded by PIL), and ``raw`` holds the undecoded JPEG bytes (uint8
    arrays or tensors) of the rows in ``raw_rows``; those rows are not yet ``ok``.
    """

    start: int
    pixels: Any
    ok: npt.NDArray[np.bool_]
    decode_s: float
    pixel_rows: npt.NDArray[np.int64] | None = None
    raw_rows: npt.NDArray[np.int64] | None = None
    raw: tuple[Any, ...] = ()

    def pin_memory(self) -> PixelBatch:
        """Called by the DataLoader's pinning thread (``pin_memory=True``) on CUDA; raw JPEG
        bytes stay where they are (torchvision copies them to the device itself)."""
        return PixelBatch(
            self.start, self.pixels.pin_memory(), self.ok, self.decode_s, self.pixel_rows, self.raw_rows, self.raw
        )


def decode_error(data: bytes | None, transform: ImageTransform) -> str | None:
    """Why ``data`` cannot be decoded, or None."""
    if data is None:
        return "no image bytes"
    try:
        transform(data)
    except DECODE_ERRORS as exc:
        return f"cannot decode image: {exc}"
    return None


class BatchDecoder:
    """A map-style dataset whose item ``i`` is the decoded batch ``ranges[i]``.

    A plain class (no torch import): DataLoader accepts anything with ``__getitem__`` and
    ``__len__``, and it pickles for spawned workers.
    """

    def __init__(self, rows: Any, ranges: Sequence[tuple[int, int]], transform: ImageTransform):
        # ``rows`` is an ImageRows (muge_eval.encoding.images): raw bytes by position.
        self.rows = rows
        self.ranges = list(ranges)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.ranges)

    def __getitem__(self, index: int) -> PixelBatch:
        import time

        started = time.perf_counter()
        start, stop = self.ranges[index]
        records = self.rows.raw(start, stop)
        if self.transform.decode != CPU_DECODE:
            return self._split_jpegs(start, records, started)
        r = self.transform.resolution
        pixels = np.zeros((stop - start, r, r, 3), dtype=np.uint8)
        ok = np.zeros(stop - start, dtype=np.bool_)
        for row, data in enumerate(records):
            if data is None:
                continue
            try:
                pixels[row] = self.transform(data)
            except DECODE_ERRORS:
                continue
            ok[row] = True
        return PixelBatch(start, pixels, ok, time.perf_counter() - started)

    def _split_jpegs(self, start: int, records: list[bytes | None], started: float) -> PixelBatch:
        """JPEGs as raw bytes for the device; the other images decoded here with PIL."""
        import time

        ok = np.zeros(len(records), dtype=np.bool_)
        decoded: list[npt.NDArray[np.uint8]] = []
        pixel_rows: list[int] = []
        raw: list[npt.NDArray[np.uint8]] = []
        raw_rows: list[int] = []
        for row, data in enumerate(records):
            if data is None:
                continue
            if is_jpeg(data):
                raw.append(np.frombuffer(data, dtype=np.uint8).copy())
                raw_rows.append(row)
                continue
            try:
                decoded.append(self.transform(data))
            except DECODE_ERRORS:
                continue
            pixel_rows.append(row)
            ok[row] = True
        r = self.transform.resolution
        pixels = np.stack(decoded) if decoded else np.zeros((0, r, r, 3), dtype=np.uint8)
        return PixelBatch(
            start,
            pixels,
            ok,
            time.perf_counter() - started,
            np.asarray(pixel_rows, dtype=np.int64),
            np.asarray(raw_rows, dtype=np.int64),
            tuple(raw),
        )


def _to_tensor(item: PixelBatch) -> PixelBatch:
    """Runs in the worker: a torch tensor travels to the main process through shared
    memory, where a numpy array would be pickled through a pipe."""
    import torch

    raw = tuple(torch.from_numpy(data) for data in item.raw)
    return PixelBatch(
        item.start, torch.from_numpy(item.pixels), item.ok, item.decode_s, item.pixel_rows, item.raw_rows, raw
    )


def iter_pixel_batches(
    rows: Any, ranges: Sequence[tuple[int, int]], transform: ImageTransform, num_workers: int, pin: bool = False
) -> Iterator[PixelBatch]:
    """Decoded batches of ``ranges`` of ``rows`` (an ImageRows), in order; decoded by
    ``num_workers`` processes when > 0."""
    decoder = BatchDecoder(rows, ranges, transform)
    if num_workers <= 0 or len(ranges) <= 1:
        for index in range(len(decoder)):
            yield decoder[index]
        return
    from torch.utils.data import DataLoader

    loader: Any = DataLoader(
        decoder,  # type: ignore[arg-type]
        batch_size=None,
        shuffle=False,
        num_workers=min(num_workers, len(ranges)),
        collate_fn=_to_tensor,  # type: ignore[arg-type]
        prefetch_factor=4,
        persistent_workers=False,
        pin_memory=pin,
    )
    yield from loader


def default_workers() -> int:
    """One decoding process per core but one, at most 16."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(16, cores - 1))
