"""Decoding images in parallel: a torch DataLoader over whole batches of table rows.

Each worker reads raw JPEG/PNG bytes of its rows (from the Arrow table, no decoding by
`datasets`, or from files), decodes and resizes them with the model's ``ImageTransform``
and writes the uint8 pixels into a ring of shared-memory slots made once per iteration;
only the slot number and the per-row flags go back through the pipe. (Handing back a
fresh tensor per batch cost a new shared-memory segment, its page faults and a
file-descriptor exchange per batch: about as much CPU time as decoding the batch.) The
main process copies a batch out of its slot at once, so a slot is free again before the
DataLoader can ask a worker to refill it. A corrupt image does not stop the batch: its
row is marked bad and the caller decides (fail with the list, or skip).

How many workers, if any, is decided from the first batches, decoded in the main process
(``decode_plan``): on a machine where the model's threads already use every core, moving
the decoding to a worker only takes a core away from the model.

With the transform's ``decode="torchvision"``, a worker decodes only the non-JPEG images
(PIL, as above) and hands each JPEG over as its raw bytes, for ``device_decode`` to decode
on the model's device in the main process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.data.decode_plan import DecodePlan, plan_decoding
from muge_eval.data.image_transform import CPU_DECODE, ImageTransform
from muge_eval.io.pixels import IMAGE_DECODE_ERRORS

DECODE_ERRORS = IMAGE_DECODE_ERRORS
JPEG_SIGNATURE = b"\xff\xd8\xff"
# Batches each worker works ahead (torch's default).
PREFETCH_PER_WORKER = 2
# Batches decoded in the main process to measure decoding and the model (the first one
# includes the model's warm-up; the last one is used).
PROBE_BATCHES = 2


def is_jpeg(data: bytes) -> bool:
    return data[:3] == JPEG_SIGNATURE


@dataclass(frozen=True)
class PixelBatch:
    """Rows ``[start, start + len(ok))``.

    ``pixels`` holds uint8 ``(n, r, r, 3)`` (numpy or a pinned torch tensor; zeros where
    ``ok`` is False). When the JPEGs are left to the device, it holds only the rows listed
    in ``pixel_rows`` (decoded by PIL), and ``raw`` holds the undecoded JPEG bytes (uint8
    arrays) of the rows in ``raw_rows``; those rows are not yet ``ok``. Between a worker
    and ``iter_pixel_batches``, ``pixels`` is None and ``slot`` names the shared slot
    holding them.
    """

    start: int
    pixels: Any
    ok: npt.NDArray[np.bool_]
    decode_s: float
    pixel_rows: npt.NDArray[np.int64] | None = None
    raw_rows: npt.NDArray[np.int64] | None = None
    raw: tuple[Any, ...] = ()
    slot: int | None = None


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
    ``__len__``, and it pickles for spawned workers. With ``slots`` (a shared uint8 torch
    tensor ``(s, rows, r, r, 3)``), item ``i`` is written into slot ``i % s`` and returned
    without its pixels.
    """

    def __init__(self, rows: Any, ranges: Sequence[tuple[int, int]], transform: ImageTransform, slots: Any = None):
        # ``rows`` is an ImageRows (muge_eval.encoding.images): raw bytes by position.
        self.rows = rows
        self.ranges = list(ranges)
        self.transform = transform
        self.slots = slots

    def __len__(self) -> int:
        return len(self.ranges)

    def _output(self, index: int, rows: int) -> tuple[npt.NDArray[np.uint8], int | None]:
        r = self.transform.resolution
        if self.slots is None:
            return np.zeros((rows, r, r, 3), dtype=np.uint8), None
        slot = index % len(self.slots)
        return self.slots[slot].numpy()[:rows], slot

    def __getitem__(self, index: int) -> PixelBatch:
        started = time.perf_counter()
        start, stop = self.ranges[index]
        records = self.rows.raw(start, stop)
        if self.transform.decode != CPU_DECODE:
            return self._split_jpegs(index, start, records, started)
        pixels, slot = self._output(index, stop - start)
        ok = np.zeros(stop - start, dtype=np.bool_)
        for row, data in enumerate(records):
            try:
                if data is None:
                    raise ValueError("no image bytes")
                pixels[row] = self.transform(data)
            except DECODE_ERRORS:
                if slot is not None:
                    pixels[row] = 0  # the slot still holds an earlier batch's pixels
                continue
            ok[row] = True
        return PixelBatch(start, None if slot is not None else pixels, ok, time.perf_counter() - started, slot=slot)

    def _split_jpegs(self, index: int, start: int, records: list[bytes | None], started: float) -> PixelBatch:
        """JPEGs as raw bytes for the device; the other images decoded here with PIL."""
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
        pixels, slot = self._output(index, len(decoded))
        if decoded:
            pixels[...] = np.stack(decoded)
        return PixelBatch(
            start,
            None if slot is not None else pixels,
            ok,
            time.perf_counter() - started,
            np.asarray(pixel_rows, dtype=np.int64),
            np.asarray(raw_rows, dtype=np.int64),
            tuple(raw),
            slot,
        )


def _as_is(item: PixelBatch) -> PixelBatch:
    """The DataLoader's collate function: batches are already whole."""
    return item


def _shared_slots(count: int, rows: int, resolution: int) -> Any:
    """uint8 ``(count, rows, r, r, 3)`` in shared memory, for the workers to fill (every row
    handed out is written first: pixels, or zeros for a bad image)."""
    import torch

    return torch.empty((count, rows, resolution, resolution, 3), dtype=torch.uint8).share_memory_()


def _out_of_slot(item: PixelBatch, slots: Any, pin: bool) -> PixelBatch:
    """The batch with its own copy of the pixels (pinned for a CUDA copy when ``pin``)."""
    if item.slot is None:
        return item
    rows = len(item.ok) if item.pixel_rows is None else len(item.pixel_rows)
    view = slots[item.slot][:rows]
    if pin:
        import torch

        pixels: Any = torch.empty(view.shape, dtype=torch.uint8, pin_memory=True)
        pixels.copy_(view)
    else:
        pixels = view.numpy().copy()
    return replace(item, pixels=pixels, slot=None)


def iter_pixel_batches(
    rows: Any,
    ranges: Sequence[tuple[int, int]],
    transform: ImageTransform,
    num_workers: int,
    pin: bool = False,
    *,
    adaptive: bool = True,
) -> Iterator[PixelBatch]:
    """Decoded batches of ``ranges`` of ``rows`` (an ImageRows), in order, decoded by up to
    ``num_workers`` processes.

    ``adaptive``: the first batches are decoded here, timing the decoding and the caller's
    work between batches (the model), and ``decode_plan`` picks how many workers (maybe
    none) and how many torch threads the model keeps meanwhile (``pin``: the model is on
    a GPU). Otherwise exactly ``num_workers`` workers. Either way the first batch handed
    to the workers' share is decoded here while they start.
    """
    decoder = BatchDecoder(rows, ranges, transform)
    workers, model_threads, done = min(num_workers, len(ranges) - 1), None, 0
    if adaptive and workers > 0:
        decode_s = consume_s = 0.0
        while done < min(PROBE_BATCHES, len(ranges)):
            item = decoder[done]
            handed = time.perf_counter()
            yield item
            consume_s, decode_s, done = time.perf_counter() - handed, item.decode_s, done + 1
        plan = _plan(decode_s, consume_s, len(ranges) - done, workers, pin)
        workers, model_threads = plan.workers, plan.model_threads
    if workers <= 0 or len(ranges) - done <= 1:
        for index in range(done, len(ranges)):
            yield decoder[index]
        return
    with _torch_threads(model_threads):
        yield from _decoded_by_workers(rows, ranges[done:], transform, workers, pin)


def _plan(decode_s: float, consume_s: float, batches: int, max_workers: int, pin: bool) -> DecodePlan:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return plan_decoding(decode_s, consume_s, batches, max_workers, cores, torch.get_num_threads(), not pin)


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` (None: unchanged) until the block ends."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _decoded_by_workers(
    rows: Any, ranges: Sequence[tuple[int, int]], transform: ImageTransform, workers: int, pin: bool
) -> Iterator[PixelBatch]:
    """``ranges[0]`` decoded here while ``workers`` processes start on the others."""
    from torch.utils.data import DataLoader

    workers = min(workers, len(ranges) - 1)
    # A slot is refilled only after the DataLoader has handed out the batch before it,
    # i.e. after we copied that batch out: one more slot than batches in flight suffices.
    slots = _shared_slots(workers * PREFETCH_PER_WORKER + 2, max(b - a for a, b in ranges), transform.resolution)
    loader: Any = DataLoader(
        BatchDecoder(rows, ranges[1:], transform, slots),  # type: ignore[arg-type]
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_as_is,  # type: ignore[arg-type]
        prefetch_factor=PREFETCH_PER_WORKER,
        persistent_workers=False,
    )
    batches = iter(loader)  # starts the workers
    yield BatchDecoder(rows, ranges[:1], transform)[0]
    for item in batches:
        yield _out_of_slot(item, slots, pin)


def default_workers() -> int:
    """One decoding process per core but one, at most 16."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(16, cores - 1))
