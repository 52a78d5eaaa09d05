"""Running a model on a retrieval split: load the data, encode it with the shared
encoder, rank exactly, and score the rankings with the task's own scorer."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from muge_eval.encoding.encoder import Encoded, Encoder, bad_image_problems, settings_for
from muge_eval.encoding.images import TableImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.models.base import RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.retrieval.cache import IMAGES, TEXTS, embedding_identity
from muge_eval.retrieval.data import RetrievalData, load_retrieval_data
from muge_eval.retrieval.gold import GoldQueries, invert_gold
from muge_eval.retrieval.ranking import choose_backend, exact_topk, l2_normalize
from muge_eval.retrieval.released_data import write_id_names
from muge_eval.retrieval.released_layouts import SPLIT_OPTIONS
from muge_eval.retrieval.schema import DIRECTION_FIELDS, TOP_K
from muge_eval.retrieval.split_pin import SplitCheck, check_split
from muge_eval.retrieval.submission import RetrievalSubmission, prediction_file_name, write_rankings_jsonl
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome

if TYPE_CHECKING:
    from muge_eval.retrieval.task import RetrievalTask


def worker_outcome(info: DatasetInfo) -> TaskOutcome:
    """What a non-zero rank of a multi-process run hands back: nothing to write."""
    return TaskOutcome(dataset=info, metrics={}, protocol={}, notes=("worker rank",))


def drop_bad_images(
    data: RetrievalData, rows: TableImageRows, encoded: Encoded, model: RetrievalAdapter, config: RunConfig
) -> tuple[RetrievalData, npt.NDArray[np.float32], tuple[str, ...]]:
    """Fail on undecodable images with their list, or leave them out of the pool."""
    bad = np.nonzero(~encoded.ok)[0]
    if not len(bad):
        return data, l2_normalize(encoded.embeddings), ()
    problems = bad_image_problems(rows, [int(r) for r in bad], model.image_transform())
    if not config.skip_bad_images:
        raise InputError(problems, f"{len(bad)} image(s) cannot be decoded (pass --skip-bad-images to go on)")
    keep = encoded.ok
    kept_ids = tuple(i for i, ok in zip(data.image_ids, keep, strict=True) if ok)
    if len(kept_ids) < TOP_K:
        raise InputError(problems, f"only {len(kept_ids)} images decode, fewer than {TOP_K}")
    info = dataclasses.replace(data.info, num_items={**data.info.num_items, "bad_images": len(bad)})
    skipped = ", ".join(f"{p.message} (line {p.line})" for p in problems)
    note = f"{len(bad)} image(s) could not be decoded and were left out of the pool: {skipped}"
    data = dataclasses.replace(data, image_ids=kept_ids, info=info)
    return data, l2_normalize(encoded.embeddings[keep]), (note,)


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
    data = load_retrieval_data(task.card, config.split, task.data_dir(config.data_dir), config.cache_dir, task.settings)
    split_check = pinned_split_check(task, data, config.split)
    gold = limited_gold(data.gold, config.limit)
    if len(data.image_ids) < TOP_K:
        raise InputError([Problem(data.info.source, f"the pool has {len(data.image_ids)} images, fewer than {TOP_K}")])
    timings = {"load_s": time.perf_counter() - started}
    started = time.perf_counter()
    encoder = Encoder(model, settings_for(config), progress, embedding_identity(data.info))
    rows = TableImageRows(data.images, data.image_ids, data.images_source)
    texts = encoder.texts(TEXTS, gold.ids, [gold.texts[q] for q in gold.ids])
    images = encoder.images(IMAGES, rows)
    encoder.report()
    if texts is None or images is None:  # a worker rank of a multi-process run: rank 0 ranks and writes
        return worker_outcome(data.info)
    timings.update(encoder.timings)
    timings["encode_s"] = time.perf_counter() - started
    encoded_ids = data.image_ids
    data, images_emb, bad_notes = drop_bad_images(data, rows, images, model, config)
    texts_emb = l2_normalize(texts.embeddings)
    backend, device = choose_backend(task.settings["backend"], model.topk_device)
    metrics: dict[str, float] = {}
    samples: list[Mapping[str, Any]] = []
    predictions: list[PredictionFile] = []
    notes: list[str] = list(bad_notes)
    if split_check.differences:
        notes.append(f"this {config.split} split is not the card's pinned one: {'; '.join(split_check.differences)}")
    if data.id_names:
        predictions.append(PredictionFile("ids.tsv", "ids", write_id_names(data.id_names)))
    for direction in task.run_directions:
        started = time.perf_counter()
        fields = DIRECTION_FIELDS[direction]
        if direction == "text_to_image":
            query_ids: Sequence[int] = gold.ids
            result = exact_topk(texts_emb, images_emb, TOP_K, backend, device=device)
            targets: Sequence[int] = data.image_ids
            direction_gold: GoldQueries | None = gold if gold.has_answers else None
        else:
            if not gold.has_answers:
                notes.append("image_to_text needs the texts' image_ids; skipped on this split")
                continue
            if len(gold.ids) < TOP_K:
                raise UsageError(f"image_to_text ranks the texts: keep at least {TOP_K} with --limit")
            # With --limit, the image queries are those relevant to the kept texts, and
            # the pool is the kept texts.
            direction_gold = invert_gold(gold, data.image_ids)
            query_ids = direction_gold.ids
            image_row = {i: r for r, i in enumerate(data.image_ids)}
            query_emb = images_emb[[image_row[q] for q in query_ids if q in image_row]]
            if len(query_emb) != len(query_ids):
                raise InputError([Problem(gold.file, "some texts name images that are not in the pool")])
            result = exact_topk(query_emb, texts_emb, TOP_K, backend, device=device)
            targets = gold.ids
        rankings = {q: tuple(int(targets[j]) for j in row) for q, row in zip(query_ids, result.indices, strict=True)}
        timings[f"rank_{direction}_s"] = time.perf_counter() - started
        predictions.append(
            PredictionFile(
                prediction_file_name(direction), direction, write_rankings_jsonl(rankings, fields, task._spelling())
            )
        )
        if direction_gold is None:
            notes.append(f"{config.split} has no answers: predictions written, not scored")
            continue
        outcome = task._score(direction_gold, RetrievalSubmission("<run>", direction, rankings, 0))
        metrics.update(outcome.metrics)
        samples.extend(
            {**s, "query_text": gold.texts[s["query_id"]]} if direction == "text_to_image" else s
            for s in outcome.samples
        )
    protocol = {**task.protocol(backend), "directions": list(task.run_directions), "split": split_check.recorded()}
    protocol["split"]["options"] = split_options(task)
    if config.skip_bad_images:
        protocol["skipped_images"] = [i for i, ok in zip(encoded_ids, images.ok, strict=True) if not ok]
    return TaskOutcome(
        dataset=data.info,
        metrics=metrics,
        protocol=protocol,
        samples=tuple(samples),
        predictions=tuple(predictions),
        timings=timings,
        notes=tuple(notes),
    )
