"""Embedding a retrieval split: texts and images in chunks, cached on disk, shared by rank.

Rows are split into chunks of whole batches. Each chunk is encoded by rank
``chunk % world_size``, stored in the embedding cache when the model allows it, and
gathered on rank 0 in chunk order, so batch boundaries (and so the numbers) are the same
for any number of processes and for a resumed run. Adapters with an ``image_transform``
get their pixels from parallel decoding workers; the others (``random``, ``features``)
get lazily decoded images and may never decode any.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.distributed import DistContext, all_max, context, gather_rows
from muge_eval.encoding.cache import Chunk, EmbeddingCache, default_cache_root
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.base import ImageBatch, RetrievalAdapter, TextBatch
from muge_eval.progress import Progress
from muge_eval.retrieval.data import RetrievalData
from muge_eval.retrieval.gold import GoldQueries
from muge_eval.specs import RunConfig

FloatMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChunkPlan:
    """``count`` rows in chunks of ``chunk_rows`` (a multiple of ``batch_size``)."""

    count: int
    batch_size: int
    chunk_rows: int

    @classmethod
    def build(cls, count: int, batch_size: int, chunk_size: int) -> ChunkPlan:
        batches = max(1, -(-chunk_size // batch_size))
        return cls(count, batch_size, batches * batch_size)

    def chunks(self) -> list[tuple[int, int]]:
        return [(s, min(self.count, s + self.chunk_rows)) for s in range(0, self.count, self.chunk_rows)]

    def batches(self, start: int, stop: int) -> list[tuple[int, int]]:
        return [(s, min(stop, s + self.batch_size)) for s in range(start, stop, self.batch_size)]

    def rows_of_rank(self, ctx: DistContext, rank: int) -> int:
        return sum(b - a for i, (a, b) in enumerate(self.chunks()) if i % ctx.world_size == rank)


@dataclass(frozen=True)
class Embeddings:
    """Rank 0's result: unnormalised embeddings in row order, and which images decoded."""

    texts: FloatMatrix
    images: FloatMatrix
    image_ok: npt.NDArray[np.bool_]
    timings: Mapping[str, float] = field(default_factory=dict)
    reused_chunks: int = 0
    encoded_chunks: int = 0


def check_embeddings(array: Any, rows: int, what: str, dim: int | None) -> FloatMatrix:
    matrix = np.asarray(array, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise UsageError(f"model returned {what} embeddings of shape {matrix.shape}, expected ({rows}, d)")
    if dim is not None and matrix.shape[1] != dim:
        raise UsageError(f"model returned {what} embeddings of dimension {matrix.shape[1]}, earlier {dim}")
    if not np.isfinite(matrix).all():
        raise UsageError(f"model returned non-finite {what} embeddings (NaN or inf)")
    return matrix


def decode_rows(table: Any, start: int, stop: int, source: str) -> list[Image.Image]:
    """Images of rows [start, stop); a corrupt image is reported with its TSV line."""
    try:
        return list(table[start:stop]["image"])
    except Exception:  # a corrupt image anywhere in the slice: find which
        for row in range(start, stop):
            try:
                _ = table[row]["image"]
            except Exception as exc:
                line = table.select_columns(["line"])[row]["line"] if "line" in table.column_names else row + 1
                raise InputError(
                    [Problem(source, f"cannot decode image: {exc}", line, "image")], "corrupt image"
                ) from exc
        raise


def _ids_digest(ids: Sequence[int]) -> str:
    return text_fingerprint(",".join(map(str, ids)))


class _Counters:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.reused = 0
        self.encoded = 0

    def add(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds


class SplitEncoder:
    """Encodes one split's texts and images with one model on this process's chunks."""

    def __init__(
        self, model: RetrievalAdapter, data: RetrievalData, gold: GoldQueries, config: RunConfig, progress: Progress
    ):
        self.model = model
        self.data = data
        self.gold = gold
        self.config = config
        self.ctx = context()
        self.progress = progress if self.ctx.is_main else Progress(quiet=True)
        self.batch_size = int(getattr(model, "batch_size", None) or config.batch_size)
        self.counters = _Counters()
        self.transform = getattr(model, "image_transform", lambda: None)()
        self.pixel_path = self.transform is not None and callable(getattr(model, "encode_pixels", None))

    # --- cache -------------------------------------------------------------------
    def _cache(self, kind: str, ids: Sequence[int], plan: ChunkPlan) -> EmbeddingCache | None:
        if not self.config.use_embedding_cache or not getattr(self.model, "cacheable", False):
            return None
        fingerprint = self.model.fingerprint()
        if fingerprint is None:
            return None
        key = {
            "kind": kind,
            "model_fingerprint": fingerprint,
            "model_protocol": self.model.protocol(),
            "dataset_fingerprint": self.data.info.fingerprint,
            "split": self.data.info.split,
            "ids": _ids_digest(ids),
            "count": len(ids),
            "batch_size": plan.batch_size,
            "chunk_rows": plan.chunk_rows,
        }
        return EmbeddingCache(self.config.embedding_cache or default_cache_root(), key)

    # --- encoding ----------------------------------------------------------------
    def _run(
        self,
        kind: str,
        ids: Sequence[int],
        encode_missing: Callable[[ChunkPlan, list[int]], Iterator[tuple[int, Chunk]]],
    ) -> tuple[FloatMatrix, npt.NDArray[np.bool_]] | None:
        plan = ChunkPlan.build(len(ids), self.batch_size, self.config.chunk_size)
        cache = self._cache(kind, ids, plan)
        chunks = plan.chunks()
        owned = [i for i in range(len(chunks)) if self.ctx.owns(i)]
        done: dict[int, Chunk] = {}
        for index in owned:
            stored = cache.load(index, chunks[index][1] - chunks[index][0]) if cache else None
            if stored is not None:
                done[index] = stored
        self.counters.reused += len(done)
        missing = [i for i in owned if i not in done]
        started = time.perf_counter()
        for index, chunk in encode_missing(plan, missing):
            if cache is not None:
                cache.save(index, chunk)
            done[index] = chunk
            self.counters.encoded += 1
        self.counters.add(f"encode_{kind}_s", time.perf_counter() - started)
        dim = all_max(self.ctx, max((c.embeddings.shape[1] for c in done.values()), default=0))
        if any(c.embeddings.shape[1] != dim for c in done.values()):
            raise UsageError(f"model returned {kind} embeddings of different dimensions across chunks")
        local = [np.column_stack([done[i].embeddings, done[i].ok.astype(np.float32)]) for i in owned]
        packed = np.concatenate(local) if local else np.zeros((0, dim + 1), dtype=np.float32)
        parts = gather_rows(self.ctx, packed, [plan.rows_of_rank(self.ctx, r) for r in range(self.ctx.world_size)])
        if parts is None:
            return None
        offsets = [0] * self.ctx.world_size
        ordered = []
        for index, (start, stop) in enumerate(chunks):
            rank = index % self.ctx.world_size
            ordered.append(parts[rank][offsets[rank] : offsets[rank] + stop - start])
            offsets[rank] += stop - start
        matrix = np.concatenate(ordered) if ordered else np.zeros((0, dim + 1), dtype=np.float32)
        return np.ascontiguousarray(matrix[:, :dim]), matrix[:, dim] > 0.5

    def _bar(self, plan: ChunkPlan, missing: list[int], desc: str) -> Any:
        chunks = plan.chunks()
        return self.progress.bar(sum(chunks[i][1] - chunks[i][0] for i in missing), desc, "item")

    def _text_chunks(self, plan: ChunkPlan, missing: list[int]) -> Iterator[tuple[int, Chunk]]:
        ids, chunks = list(self.gold.ids), plan.chunks()
        dim: int | None = None
        with self._bar(plan, missing, "encode texts") as bar:
            for index in missing:
                parts = []
                for start, stop in plan.batches(*chunks[index]):
                    batch = TextBatch(ids[start:stop], [self.gold.texts[i] for i in ids[start:stop]])
                    part = check_embeddings(self.model.encode_text_batch(batch), stop - start, "text", dim)
                    dim = part.shape[1]
                    parts.append(part)
                    bar.update(stop - start)
                rows = np.concatenate(parts)
                yield index, Chunk(rows, np.ones(len(rows), dtype=np.bool_))

    def _lazy_image_chunks(self, plan: ChunkPlan, missing: list[int]) -> Iterator[tuple[int, Chunk]]:
        table, source, chunks = self.data.images, self.data.images_source, plan.chunks()
        dim: int | None = None
        with self._bar(plan, missing, "encode images") as bar:
            for index in missing:
                parts = []
                for start, stop in plan.batches(*chunks[index]):
                    load = functools.partial(decode_rows, table, start, stop, source)
                    batch = ImageBatch(self.data.image_ids[start:stop], load)
                    part = check_embeddings(self.model.encode_image_batch(batch), stop - start, "image", dim)
                    dim = part.shape[1]
                    parts.append(part)
                    bar.update(stop - start)
                rows = np.concatenate(parts)
                yield index, Chunk(rows, np.ones(len(rows), dtype=np.bool_))

    def _pixel_image_chunks(self, plan: ChunkPlan, missing: list[int]) -> Iterator[tuple[int, Chunk]]:
        from muge_eval.data.loader import default_workers, iter_pixel_batches

        assert self.transform is not None
        chunks = plan.chunks()
        ranges = [b for i in missing for b in plan.batches(*chunks[i])]
        owner = {b[0]: i for i in missing for b in plan.batches(*chunks[i])}
        remaining = {i: len(plan.batches(*chunks[i])) for i in missing}
        pending: dict[int, list[tuple[FloatMatrix, npt.NDArray[np.bool_]]]] = {i: [] for i in missing}
        workers = default_workers() if self.config.num_workers is None else self.config.num_workers
        pin = str(getattr(self.model, "device", "cpu")).startswith("cuda")
        encode_pixels: Callable[[Any], Any] = self.model.encode_pixels  # type: ignore[attr-defined]
        dim: int | None = None
        with self._bar(plan, missing, "encode images") as bar:
            for batch in iter_pixel_batches(self.data.images, ranges, self.transform, workers, pin):
                pixels, ok = self._device_pixels(batch)
                started = time.perf_counter()
                rows = len(ok)
                part = check_embeddings(encode_pixels(pixels), rows, "image", dim)
                self.counters.add("model_images_s", time.perf_counter() - started)
                self.counters.add("decode_images_cpu_s", batch.decode_s)
                dim = part.shape[1]
                part[~ok] = 0.0
                index = owner[batch.start]
                pending[index].append((part, ok))
                remaining[index] -= 1
                bar.update(rows)
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
        device = getattr(self.model, "device", "cpu")
        decoded = decode_on_device(batch, self.transform, device)
        self.counters.add("decode_images_device_s", time.perf_counter() - started)
        return decoded

    def encode(self) -> Embeddings | None:
        """Embeddings on rank 0 (None on the other ranks)."""
        texts = self._run("texts", list(self.gold.ids), self._text_chunks)
        image_chunks = self._pixel_image_chunks if self.pixel_path else self._lazy_image_chunks
        images = self._run("images", list(self.data.image_ids), image_chunks)
        if self.counters.reused:
            self.progress.message(
                f"embedding cache: reused {self.counters.reused} chunk(s), encoded {self.counters.encoded}"
            )
        if texts is None or images is None:
            return None
        return Embeddings(
            texts[0], images[0], images[1], self.counters.timings, self.counters.reused, self.counters.encoded
        )


def bad_image_problems(data: RetrievalData, rows: Sequence[int], transform: Any) -> list[Problem]:
    """One problem per undecodable image row, with its TSV line and the decoder's message."""
    from muge_eval.data.loader import decode_error, raw_image_table

    raw = raw_image_table(data.images)
    lines = data.images["line"] if "line" in data.images.column_names else None
    problems = []
    for row in rows:
        record = raw[int(row)]["image"]
        message = decode_error(record.get("bytes") if isinstance(record, dict) else None, transform)
        line = int(lines[int(row)]) if lines is not None else int(row) + 1
        text = f"image {data.image_ids[row]}: {message or 'cannot decode image'}"
        problems.append(Problem(data.images_source, text, line, "image"))
    return problems
