"""Embedding sets of texts or images with an embedding adapter: chunked, cached on disk,
resumable, and shared across ``torchrun`` ranks. Every task type that embeds uses it
(retrieval, zero-shot classification, the judges of text-to-image and captioning).

Rows are split into chunks of whole batches. Each chunk is encoded by rank
``chunk % world_size``, stored in the embedding cache when the model allows it, and
gathered on rank 0 in chunk order, so batch boundaries (and so the numbers) are the same
for any number of processes and for a resumed run. A set searched in shards
(``images_local``) is not gathered: each rank keeps the chunks it encoded. Adapters with an ``image_transform``
get their pixels from parallel decoding workers; the others (``random``, ``features``)
get lazily decoded images and may never decode any.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.cache import cache_dir
from muge_eval.distributed import all_max, context, gather_arrays
from muge_eval.encoding.cache import Chunk, EmbeddingCache
from muge_eval.encoding.images import ImageRows
from muge_eval.encoding.plan import ChunkPlan
from muge_eval.errors import Problem, UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.base import ImageBatch, RetrievalAdapter, TextBatch
from muge_eval.progress import Progress
from muge_eval.specs import RunConfig

FloatMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncodeSettings:
    """How to encode: batch and chunk sizes, decoding workers, and the embedding cache."""

    batch_size: int
    chunk_rows: int
    num_workers: int | None = None
    # The embedding cache folder; None: no cache.
    cache_dir: Path | None = None


def settings_for(config: RunConfig) -> EncodeSettings:
    """A run's encoding settings: its batch size, chunking, workers and cache root."""
    return EncodeSettings(
        batch_size=config.batch_size or 64,
        chunk_rows=config.chunk_rows,
        num_workers=config.num_workers,
        cache_dir=cache_dir("embeddings", config.cache_dir) if config.use_embedding_cache else None,
    )


@dataclass(frozen=True)
class Encoded:
    """Rank 0's result: unnormalised embeddings in row order, and which rows encoded (an
    undecodable image's row is zeros and not ok)."""

    embeddings: FloatMatrix
    ok: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LocalEncoded:
    """One rank's share of a set, never gathered: the rows of the chunks it owns (every
    row in a single process), their ``positions`` in the set (ascending), unnormalised
    embeddings and which rows encoded."""

    embeddings: FloatMatrix
    ok: npt.NDArray[np.bool_]
    positions: npt.NDArray[np.int64]


def check_embeddings(array: Any, rows: int, what: str, dim: int | None) -> FloatMatrix:
    matrix = np.asarray(array, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise UsageError(f"model returned {what} embeddings of shape {matrix.shape}, expected ({rows}, d)")
    if dim is not None and matrix.shape[1] != dim:
        raise UsageError(f"model returned {what} embeddings of dimension {matrix.shape[1]}, earlier {dim}")
    if not np.isfinite(matrix).all():
        raise UsageError(f"model returned non-finite {what} embeddings (NaN or inf)")
    return matrix


def ids_digest(ids: Sequence[int | str]) -> str:
    return text_fingerprint(",".join(map(str, ids)))


class Encoder:
    """Encodes text and image sets with one model on this process's chunks.

    ``identity`` names the data being encoded (dataset fingerprint, split, ...): with the
    model's fingerprint and protocol, the set's kind, its ids and the chunking it keys the
    embedding cache.
    """

    def __init__(
        self, model: RetrievalAdapter, settings: EncodeSettings, progress: Progress, identity: Mapping[str, Any]
    ):
        self.model = model
        self.settings = settings
        self.identity = dict(identity)
        self.ctx = context()
        self.progress = progress if self.ctx.is_main else Progress(quiet=True)
        self.batch_size = int(model.batch_size or settings.batch_size)
        self.timings: dict[str, float] = {}
        self.reused = 0
        self.encoded = 0
        self.transform = model.image_transform()

    def _add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    # --- cache ---------------------------------------------------------------------
    def _cache(
        self, kind: str, ids: Sequence[int | str], plan: ChunkPlan, extra: Mapping[str, Any]
    ) -> EmbeddingCache | None:
        if self.settings.cache_dir is None or not self.model.cacheable:
            return None
        fingerprint = self.model.fingerprint()
        if fingerprint is None:
            return None
        key = {
            **self.identity,
            **extra,
            "kind": kind,
            "model_fingerprint": fingerprint,
            "model_protocol": self.model.protocol(),
            "ids": ids_digest(ids),
            "count": len(ids),
            "batch_size": plan.batch_size,
            "chunk_rows": plan.chunk_rows,
        }
        return EmbeddingCache(self.settings.cache_dir, key)

    # --- the chunk loop ------------------------------------------------------------
    def _encode_owned(
        self,
        kind: str,
        ids: Sequence[int | str],
        encode_missing: Callable[[ChunkPlan, list[int]], Iterator[tuple[int, Chunk]]],
        extra: Mapping[str, Any] | None,
    ) -> tuple[ChunkPlan, list[int], dict[int, Chunk], int]:
        """This rank's chunks, from the cache or encoded: (plan, owned chunk indices, the
        chunks by index, the embedding width agreed by every rank)."""
        plan = ChunkPlan.build(len(ids), self.batch_size, self.settings.chunk_rows)
        cache = self._cache(kind, ids, plan, extra or {})
        chunks = plan.chunks()
        owned = [i for i in range(len(chunks)) if self.ctx.owns(i)]
        done: dict[int, Chunk] = {}
        for index in owned:
            stored = cache.load(index, chunks[index][1] - chunks[index][0]) if cache else None
            if stored is not None:
                done[index] = stored
        self.reused += len(done)
        missing = [i for i in owned if i not in done]
        started = time.perf_counter()
        for index, chunk in encode_missing(plan, missing):
            if cache is not None:
                cache.save(index, chunk)
            done[index] = chunk
            self.encoded += 1
        self._add_time(f"encode_{kind}_s", time.perf_counter() - started)
        dim = all_max(self.ctx, max((c.embeddings.shape[1] for c in done.values()), default=0))
        if any(c.embeddings.shape[1] != dim for c in done.values()):
            raise UsageError(f"model returned {kind} embeddings of different dimensions across chunks")
        return plan, owned, done, dim

    def _run(
        self,
        kind: str,
        ids: Sequence[int | str],
        encode_missing: Callable[[ChunkPlan, list[int]], Iterator[tuple[int, Chunk]]],
        extra: Mapping[str, Any] | None = None,
        everywhere: bool = False,
    ) -> Encoded | None:
        plan, owned, done, dim = self._encode_owned(kind, ids, encode_missing, extra)
        local = [np.column_stack([done[i].embeddings, done[i].ok.astype(np.float32)]) for i in owned]
        packed = np.concatenate(local) if local else np.zeros((0, dim + 1), dtype=np.float32)
        parts = gather_arrays(self.ctx, packed, everywhere)
        if parts is None:
            return None
        offsets = [0] * self.ctx.world_size
        ordered = []
        for index, (start, stop) in enumerate(plan.chunks()):
            rank = index % self.ctx.world_size
            ordered.append(parts[rank][offsets[rank] : offsets[rank] + stop - start])
            offsets[rank] += stop - start
        matrix = np.concatenate(ordered) if ordered else np.zeros((0, dim + 1), dtype=np.float32)
        return Encoded(np.ascontiguousarray(matrix[:, :dim]), matrix[:, dim] > 0.5)

    def _bar(self, plan: ChunkPlan, missing: list[int], desc: str) -> Any:
        chunks = plan.chunks()
        return self.progress.bar(sum(chunks[i][1] - chunks[i][0] for i in missing), desc, "item")

    # --- texts ---------------------------------------------------------------------
    def texts(
        self,
        kind: str,
        ids: Sequence[int | str],
        texts: Sequence[str],
        extra: Mapping[str, Any] | None = None,
        everywhere: bool = False,
    ) -> Encoded | None:
        """Embeddings of ``texts`` (one per id) on rank 0 (on every rank with
        ``everywhere``); None on the other ranks. ``extra`` adds to the cache key what else
        names this set."""

        def encode_missing(plan: ChunkPlan, missing: list[int]) -> Iterator[tuple[int, Chunk]]:
            chunks = plan.chunks()
            dim: int | None = None
            with self._bar(plan, missing, f"encode {kind}") as bar:
                for index in missing:
                    parts = []
                    for start, stop in plan.batches(*chunks[index]):
                        batch = TextBatch(ids[start:stop], list(texts[start:stop]))
                        part = check_embeddings(self.model.encode_text_batch(batch), stop - start, "text", dim)
                        dim = part.shape[1]
                        parts.append(part)
                        bar.update(stop - start)
                    rows = np.concatenate(parts)
                    yield index, Chunk(rows, np.ones(len(rows), dtype=np.bool_))

        return self._run(kind, ids, encode_missing, extra, everywhere)

    # --- images --------------------------------------------------------------------
    def images(self, kind: str, rows: ImageRows, extra: Mapping[str, Any] | None = None) -> Encoded | None:
        """Embeddings of every image row on rank 0 (None on the other ranks); rows that
        cannot be decoded are zeros and not ``ok`` on the pixel path."""
        finder = self._pixel_chunks if self.transform is not None else self._lazy_chunks
        return self._run(kind, list(rows.ids), functools.partial(finder, rows, kind), extra)

    def images_local(self, kind: str, rows: ImageRows, extra: Mapping[str, Any] | None = None) -> LocalEncoded:
        """This rank's share of the image rows (its chunks), kept where it is: a pool
        searched in shards never has all its embeddings in one process."""
        finder = self._pixel_chunks if self.transform is not None else self._lazy_chunks
        plan, owned, done, dim = self._encode_owned(kind, list(rows.ids), functools.partial(finder, rows, kind), extra)
        chunks = plan.chunks()
        if not owned:
            empty = np.zeros(0, dtype=np.int64)
            return LocalEncoded(np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.bool_), empty)
        return LocalEncoded(
            np.concatenate([done[i].embeddings for i in owned]).astype(np.float32, copy=False),
            np.concatenate([done[i].ok for i in owned]),
            np.concatenate([np.arange(*chunks[i], dtype=np.int64) for i in owned]),
        )

    def _lazy_chunks(
        self, rows: ImageRows, kind: str, plan: ChunkPlan, missing: list[int]
    ) -> Iterator[tuple[int, Chunk]]:
        chunks = plan.chunks()
        dim: int | None = None
        with self._bar(plan, missing, f"encode {kind}") as bar:
            for index in missing:
                parts = []
                for start, stop in plan.batches(*chunks[index]):
                    batch = ImageBatch(rows.ids[start:stop], functools.partial(rows.images, start, stop))
                    part = check_embeddings(self.model.encode_image_batch(batch), stop - start, "image", dim)
                    dim = part.shape[1]
                    parts.append(part)
                    bar.update(stop - start)
                encoded = np.concatenate(parts)
                yield index, Chunk(encoded, np.ones(len(encoded), dtype=np.bool_))

    def _pixel_chunks(
        self, rows: ImageRows, kind: str, plan: ChunkPlan, missing: list[int]
    ) -> Iterator[tuple[int, Chunk]]:
        from muge_eval.data.loader import default_workers, iter_pixel_batches

        assert self.transform is not None
        chunks = plan.chunks()
        ranges = [b for i in missing for b in plan.batches(*chunks[i])]
        owner = {b[0]: i for i in missing for b in plan.batches(*chunks[i])}
        remaining = {i: len(plan.batches(*chunks[i])) for i in missing}
        pending: dict[int, list[tuple[FloatMatrix, npt.NDArray[np.bool_]]]] = {i: [] for i in missing}
        workers = default_workers() if self.settings.num_workers is None else self.settings.num_workers
        pin = str(self.model.device).startswith("cuda")
        dim: int | None = None
        with self._bar(plan, missing, f"encode {kind}") as bar:
            for batch in iter_pixel_batches(rows, ranges, self.transform, workers, pin):
                pixels, ok = self._device_pixels(batch)
                started = time.perf_counter()
                count = len(ok)
                part = check_embeddings(self.model.encode_pixels(pixels), count, "image", dim)
                self._add_time("model_images_s", time.perf_counter() - started)
                self._add_time("decode_images_cpu_s", batch.decode_s)
                dim = part.shape[1]
                part[~ok] = 0.0
                index = owner[batch.start]
                pending[index].append((part, ok))
                remaining[index] -= 1
                bar.update(count)
                if remaining[index] == 0:
                    done = pending.pop(index)
                    yield index, Chunk(np.concatenate([p for p, _ in done]), np.concatenate([o for _, o in done]))

    def _device_pixels(self, batch: Any) -> tuple[Any, npt.NDArray[np.bool_]]:
        """A batch's pixels and ``ok``, its JPEGs decoded on the model's device when the
        transform leaves them to it (``decode=torchvision``)."""
        if batch.pixel_rows is None:
            return batch.pixels, batch.ok
        from muge_eval.data.device_decode import decode_on_device

        assert self.transform is not None
        started = time.perf_counter()
        decoded = decode_on_device(batch, self.transform, self.model.device)
        self._add_time("decode_images_device_s", time.perf_counter() - started)
        return decoded

    def report(self) -> None:
        """One line about the cache, when it saved work."""
        if self.reused:
            self.progress.message(f"embedding cache: reused {self.reused} chunk(s), encoded {self.encoded}")


def bad_image_problems(rows: ImageRows, bad: Sequence[int], transform: Any) -> list[Problem]:
    """One problem per undecodable image row, with its line and the decoder's message."""
    from muge_eval.data.loader import decode_error

    problems = []
    for row in bad:
        data = rows.raw(int(row), int(row) + 1)[0]
        message = decode_error(data, transform) if transform is not None else None
        text = f"image {rows.ids[row]}: {message or 'cannot decode image'}"
        problems.append(Problem(rows.source, text, rows.line(int(row)), "image"))
    return problems


def check_decoded(encoded: Encoded, rows: ImageRows, transform: Any) -> Encoded:
    """Every image of a judge's set decoded (else one problem per image, with its line)."""
    from muge_eval.errors import InputError

    if not encoded.ok.all():
        bad = [int(r) for r in np.nonzero(~encoded.ok)[0]]
        raise InputError(bad_image_problems(rows, bad, transform), "the judge cannot read these images")
    return encoded


def check_same_width(first: Encoded, second: Encoded, what: str) -> None:
    """Two sets a judge embedded are comparable: the same embedding width."""
    from muge_eval.errors import InputError

    if first.embeddings.shape[1] != second.embeddings.shape[1]:
        raise InputError(
            [], f"the judge's {what} differ in dimension: {first.embeddings.shape[1]} vs {second.embeddings.shape[1]}"
        )


def check_judge_embeddings(texts: Encoded, images: Encoded, rows: ImageRows, transform: Any) -> None:
    """A judge's embeddings are usable: every image decoded, texts and images of one width."""
    check_decoded(images, rows, transform)
    check_same_width(texts, images, "text and image embeddings")
