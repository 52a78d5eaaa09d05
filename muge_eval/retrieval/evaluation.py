"""Running a model on a retrieval split: load the data (and any distractors), encode it
with the shared encoder, rank exactly (across ranks under ``torchrun``: ``sharded``), and
score the rankings with the task's own scorer."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from muge_eval.distributed import DistContext, context
from muge_eval.encoding.encoder import Encoder, settings_for
from muge_eval.encoding.images import TableImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.base import RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.retrieval.cache import IMAGES, POOL_EXTRA, TEXTS, embedding_identity
from muge_eval.retrieval.data import RetrievalData, load_retrieval_data
from muge_eval.retrieval.gold import GoldQueries, invert_gold
from muge_eval.retrieval.pool import PoolPart, SearchPool, assemble_pool
from muge_eval.retrieval.pool_extra import ExtraPool, load_pool_extra
from muge_eval.retrieval.ranking import TopK, choose_backend, l2_normalize
from muge_eval.retrieval.released_data import write_id_names
from muge_eval.retrieval.released_layouts import SPLIT_OPTIONS
from muge_eval.retrieval.schema import DIRECTION_FIELDS, TOP_K
from muge_eval.retrieval.sharded import FloatMatrix, query_sharded_topk, sharded_topk
from muge_eval.retrieval.split_pin import SplitCheck, check_split
from muge_eval.retrieval.submission import RetrievalSubmission, prediction_file_name, write_rankings_jsonl
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome

if TYPE_CHECKING:
    from muge_eval.retrieval.task import RetrievalTask


def worker_outcome(info: DatasetInfo) -> TaskOutcome:
    """What a non-zero rank of a multi-process run hands back: nothing to write."""
    return TaskOutcome(dataset=info, metrics={}, protocol={}, notes=("worker rank",))


def skipped_images(data: RetrievalData, pool: SearchPool) -> tuple[RetrievalData, tuple[str, ...]]:
    """The data with the pool's undecodable images left out, and a note naming them."""
    if not pool.skipped:
        return data, ()
    kept = pool.kept
    info = dataclasses.replace(data.info, num_items={**data.info.num_items, "bad_images": len(pool.skipped)})
    skipped = ", ".join(f"{p.message} (line {p.line})" if p.line else f"{p.message} ({p.file})" for p in pool.problems)
    note = f"{len(pool.skipped)} image(s) could not be decoded and were left out of the pool: {skipped}"
    return dataclasses.replace(data, image_ids=tuple(i for i in data.image_ids if i in kept), info=info), (note,)


def with_pool_extra(data: RetrievalData, extra: ExtraPool | None) -> RetrievalData:
    """The data's record naming the distractors too: their count, file and content."""
    if extra is None:
        return data
    info = dataclasses.replace(
        data.info,
        fingerprint=text_fingerprint(data.info.fingerprint, "pool_extra", extra.fingerprint),
        num_items={**data.info.num_items, "pool_extra_images": len(extra.image_ids)},
        files=(*data.info.files, extra.path.name),
    )
    return dataclasses.replace(data, info=info, id_names=data.id_names + extra.id_names())


def encode_pool(
    model: RetrievalAdapter, config: RunConfig, encoder: Encoder, data: RetrievalData, extra: ExtraPool | None
) -> SearchPool:
    """The task's images, then the distractors, each rank keeping the chunks it encoded."""
    rows = TableImageRows(data.images, data.image_ids, data.images_source)
    parts = [PoolPart(rows, data.image_ids, encoder.images_local(IMAGES, rows))]
    if extra is not None:
        # Cached under the distractors' own content, so any task (or run) reuses them.
        extra_encoder = Encoder(model, encoder.settings, encoder.progress, {"pool_extra": extra.fingerprint})
        extra_rows = extra.rows()
        parts.append(
            PoolPart(extra_rows, extra.image_ids, extra_encoder.images_local(POOL_EXTRA, extra_rows), extra.problem_for)
        )
        extra_encoder.report()
        for name, seconds in extra_encoder.timings.items():
            encoder.timings[name] = encoder.timings.get(name, 0.0) + seconds
    return assemble_pool(encoder.ctx, parts, model.image_transform(), config.skip_bad_images)


def image_queries(
    ctx: DistContext, pool: SearchPool, query_ids: Sequence[int], texts_emb: FloatMatrix, backend: str, device: str
) -> TopK | None:
    """image_to_text: every rank ranks the texts for the query images it holds; rank 0
    gets the rankings in ``query_ids`` order (None on the others)."""
    wanted = np.isin(np.asarray(pool.ids, dtype=np.int64)[pool.shard.positions], np.asarray(query_ids, dtype=np.int64))
    found = query_sharded_topk(
        ctx, pool.shard.embeddings[wanted], pool.shard.positions[wanted], texts_emb, TOP_K, backend, device
    )
    if found is None:
        return None
    positions, result = found
    row_of = {pool.ids[int(p)]: r for r, p in enumerate(positions)}
    order = [row_of[q] for q in query_ids]
    return TopK(result.indices[order], result.scores[order])


def pinned_split_check(task: RetrievalTask, data: RetrievalData, split: str) -> SplitCheck:
    """The loaded split against the card's pin (counted before ``--limit``)."""
    names: list[str | int] = [name for kind, _, name in data.id_names if kind == "image"]
    keys = names or list(data.image_ids)
    return check_split(keys, len(data.gold.ids), task.settings["split_pins"].get(split))


def split_options(task: RetrievalTask) -> dict[str, Any]:
    """The options that choose what a released format's split holds."""
    return {name: task.settings[name] for name in SPLIT_OPTIONS.get(task.card.data.format, ())}


def limited_gold(gold: GoldQueries, limit: int | None) -> GoldQueries:
    """--limit: the first N queries; the pool stays whole."""
    if limit is None:
        return gold
    kept = gold.ids[:limit]
    relevant = None if gold.relevant is None else {q: gold.relevant[q] for q in kept}
    return GoldQueries(gold.file, kept, {q: gold.texts[q] for q in kept}, relevant)


def evaluate_model(task: RetrievalTask, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
    assert isinstance(model, RetrievalAdapter)
    started = time.perf_counter()
    ctx = context()
    data = load_retrieval_data(task.card, config.split, task.data_dir(config.data_dir), config.cache_dir, task.settings)
    split_check = pinned_split_check(task, data, config.split)
    gold = limited_gold(data.gold, config.limit)
    extra_path = task.settings.get("pool_extra")
    extra = None if extra_path is None else load_pool_extra(extra_path, data.image_ids, config.cache_dir)
    pool_size = len(data.image_ids) + (0 if extra is None else len(extra.image_ids))
    if pool_size < TOP_K:
        raise InputError([Problem(data.info.source, f"the pool has {pool_size} images, fewer than {TOP_K}")])
    timings = {"load_s": time.perf_counter() - started}
    started = time.perf_counter()
    encoder = Encoder(model, settings_for(config), progress, embedding_identity(data.info))
    # Every rank ranks, so every rank has the texts; the images stay where they were encoded.
    texts = encoder.texts(TEXTS, gold.ids, [gold.texts[q] for q in gold.ids], everywhere=True)
    assert texts is not None
    pool = encode_pool(model, config, encoder, data, extra)
    encoder.report()
    timings.update(encoder.timings)
    timings["encode_s"] = time.perf_counter() - started
    data, bad_notes = skipped_images(with_pool_extra(data, extra), pool)
    texts_emb = l2_normalize(texts.embeddings)
    backend, device = choose_backend(task.settings["backend"], model.topk_device)
    notes: list[str] = list(bad_notes)
    if ctx.active:
        notes.append(f"the pool was searched in {ctx.world_size} shards, one per rank (exact: one process's answer)")
    ranked: list[tuple[str, Sequence[int], TopK | None, Sequence[int], GoldQueries | None]] = []
    for direction in task.run_directions:
        started = time.perf_counter()
        if direction == "text_to_image":
            result = sharded_topk(ctx, texts_emb, pool.shard, TOP_K, backend, device)
            ranked.append((direction, gold.ids, result, pool.ids, gold if gold.has_answers else None))
        else:
            if not gold.has_answers:
                notes.append("image_to_text needs the texts' image_ids; skipped on this split")
                continue
            if len(gold.ids) < TOP_K:
                raise UsageError(f"image_to_text ranks the texts: keep at least {TOP_K} with --limit")
            # With --limit, the image queries are those relevant to the kept texts, and
            # the pool is the kept texts.
            direction_gold = invert_gold(gold, data.image_ids)
            if any(q not in pool.kept for q in direction_gold.ids):
                raise InputError([Problem(gold.file, "some texts name images that are not in the pool")])
            result = image_queries(ctx, pool, direction_gold.ids, texts_emb, backend, device)
            ranked.append((direction, direction_gold.ids, result, gold.ids, direction_gold))
        timings[f"rank_{direction}_s"] = time.perf_counter() - started
    if not ctx.is_main:  # a worker rank of a multi-process run: rank 0 scores and writes
        return worker_outcome(data.info)
    metrics: dict[str, float] = {}
    samples: list[Mapping[str, Any]] = []
    predictions: list[PredictionFile] = []
    if split_check.differences:
        notes.append(f"this {config.split} split is not the card's pinned one: {'; '.join(split_check.differences)}")
    if data.id_names:
        predictions.append(PredictionFile("ids.tsv", "ids", write_id_names(data.id_names)))
    for direction, query_ids, result, targets, scored_gold in ranked:
        assert result is not None
        rankings = {q: tuple(int(targets[j]) for j in row) for q, row in zip(query_ids, result.indices, strict=True)}
        predictions.append(
            PredictionFile(
                prediction_file_name(direction),
                direction,
                write_rankings_jsonl(rankings, DIRECTION_FIELDS[direction], task._spelling()),
            )
        )
        if scored_gold is None:
            notes.append(f"{config.split} has no answers: predictions written, not scored")
            continue
        outcome = task._score(scored_gold, RetrievalSubmission("<run>", direction, rankings, 0))
        metrics.update(outcome.metrics)
        samples.extend(
            {**s, "query_text": gold.texts[s["query_id"]]} if direction == "text_to_image" else s
            for s in outcome.samples
        )
    protocol = {**task.protocol(backend), "directions": list(task.run_directions), "split": split_check.recorded()}
    protocol["split"]["options"] = split_options(task)
    if extra is not None:
        protocol["pool_extra"] = extra.protocol()
    if config.skip_bad_images:
        protocol["skipped_images"] = list(pool.skipped)
    return TaskOutcome(
        dataset=data.info,
        metrics=metrics,
        protocol=protocol,
        samples=tuple(samples),
        predictions=tuple(predictions),
        timings=timings,
        notes=tuple(notes),
    )
