"""The ``retrieval`` task type: MUGE MR, Flickr30K-CN, COCO-CN."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from muge_eval.encoding.encoder import Embeddings, SplitEncoder, bad_image_problems
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import files_fingerprint
from muge_eval.io.atomic import atomic_write_lines
from muge_eval.models.base import RETRIEVAL, ModelAdapter, RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.retrieval.data import RetrievalData, find_local_files, load_retrieval_data
from muge_eval.retrieval.gold import GoldQueries, invert_gold, read_gold_queries
from muge_eval.retrieval.ranking import choose_backend, exact_topk, l2_normalize
from muge_eval.retrieval.schema import DIRECTION_FIELDS, TOP_K, DirectionFields
from muge_eval.retrieval.scoring import RANK_KEYS, RECALL_KEYS, score_rankings
from muge_eval.retrieval.submission import RetrievalSubmission, read_submission
from muge_eval.specs import DatasetInfo, MetricInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import TaskType

METRIC_DESCRIPTIONS = {
    "r1": "share of queries with a relevant item at rank 1 (%)",
    "r5": "share of queries with a relevant item in the top 5 (%)",
    "r10": "share of queries with a relevant item in the top 10 (%)",
    "mean_recall": "(R@1 + R@5 + R@10) / 3, the MUGE main metric (%)",
    "map10": "mean average precision at 10 (%)",
    "ndcg10": "binary-gain nDCG at 10 (%)",
}
DIRECTION_PREFIX = {"text_to_image": "", "image_to_text": "i2t_"}
TIE_RULE = "score descending, then pool position ascending"


def metric_key(direction: str, name: str) -> str:
    return DIRECTION_PREFIX[direction] + name


def prediction_file_name(direction: str) -> str:
    return "predictions.jsonl" if direction == "text_to_image" else f"predictions_{direction}.jsonl"


def worker_outcome(info: DatasetInfo) -> TaskOutcome:
    """What a non-zero rank of a multi-process run hands back: nothing to write."""
    return TaskOutcome(dataset=info, metrics={}, metric_info={}, main_metric="", protocol={}, notes=("worker rank",))


def write_rankings_jsonl(
    rankings: Mapping[int, Sequence[int]], fields: DirectionFields, spelling: int
) -> Callable[[Path], None]:
    id_key = fields.query_keys[min(spelling, len(fields.query_keys) - 1)]
    list_key = fields.list_keys[min(spelling, len(fields.list_keys) - 1)]

    def write(path: Path) -> None:
        atomic_write_lines(path, lambda: (json.dumps({id_key: q, list_key: list(ids)}) for q, ids in rankings.items()))

    return write


class RetrievalTask(TaskType):
    type_name = "retrieval"
    capability = RETRIEVAL
    accepted_options: ClassVar[Mapping[str, str]] = {
        "backend": "top-k backend: auto (torch on the model's GPU, else faiss when installed), numpy, faiss or torch"
    }

    def _direction(self, direction: str | None) -> str:
        chosen = direction or self.card.directions[0]
        if chosen not in self.card.directions:
            raise UsageError(f"task {self.card.name!r} ranks {', '.join(self.card.directions)}, not {chosen!r}")
        return chosen

    def _spelling(self) -> int:
        # MUGE's own files say query_id/item_ids; the Chinese-CLIP layout says text_id/image_ids.
        return 0 if self.card.data.format.startswith("muge") else 1

    def load_gold(
        self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None
    ) -> GoldQueries:
        self.check_split(split)
        if gold_path is None:
            directory = self.data_dir(data_dir)
            if directory is None:
                raise UsageError(f"task {self.card.name!r} has no bundled data: pass --gold or --data-dir")
            _, _, gold_path = find_local_files(directory, split)
        gold = read_gold_queries(gold_path, require_answers=True)
        return invert_gold(gold) if self._direction(direction) == "image_to_text" else gold

    def read_submission(self, gold: GoldQueries, path: Path, direction: str | None) -> RetrievalSubmission:
        return read_submission(path, gold, DIRECTION_FIELDS[self._direction(direction)])

    def metric_infos(self, directions: Sequence[str]) -> dict[str, MetricInfo]:
        return {
            metric_key(d, name): MetricInfo(True, "percent", METRIC_DESCRIPTIONS[name])
            for d in directions
            for name in RECALL_KEYS + RANK_KEYS
        }

    def _main_metric(self, directions: Sequence[str]) -> str:
        main = self.card.main_metric
        return main if main in self.metric_infos(directions) else metric_key(directions[0], "mean_recall")

    def protocol(self, backend: str) -> dict[str, Any]:
        return {
            "k": TOP_K,
            "tie_rule": TIE_RULE,
            "similarity": "inner product of L2-normalised embeddings, float64 rescoring of float32 candidates",
            "topk_backend": backend,
            "recall": "official MUGE rules: a query hits at k when any relevant id is in its first k predictions",
        }

    def score(self, gold: GoldQueries, submission: RetrievalSubmission) -> TaskOutcome:
        started = time.perf_counter()
        result = score_rankings(gold, submission)
        direction = submission.direction
        metrics = {metric_key(direction, k): v for k, v in result.metrics.items()}
        samples = tuple({"direction": direction, **s} for s in result.samples)
        notes = (
            (f"{submission.ignored_queries} submitted queries are not in the gold file and were ignored",)
            if submission.ignored_queries
            else ()
        )
        info = DatasetInfo(
            source=f"gold:{gold.file}",
            format=self.card.data.format,
            split="",
            fingerprint=files_fingerprint([Path(gold.file)]) if Path(gold.file).is_file() else "",
            num_items={"queries": len(gold.ids)},
        )
        return TaskOutcome(
            dataset=info,
            metrics=metrics,
            metric_info=self.metric_infos([direction]),
            main_metric=self._main_metric([direction]),
            protocol={"k": TOP_K, "recall": self.protocol("n/a")["recall"], "direction": direction},
            samples=samples,
            timings={"score_s": time.perf_counter() - started},
            notes=notes,
        )

    def _drop_bad_images(
        self, data: RetrievalData, encoded: Embeddings, model: ModelAdapter, config: RunConfig
    ) -> tuple[RetrievalData, npt.NDArray[np.float32], tuple[str, ...]]:
        """Fail on undecodable images with their list, or leave them out of the pool."""
        bad = np.nonzero(~encoded.image_ok)[0]
        if not len(bad):
            return data, l2_normalize(encoded.images), ()
        problems = bad_image_problems(data, [int(r) for r in bad], getattr(model, "image_transform", lambda: None)())
        if not config.skip_bad_images:
            raise InputError(problems, f"{len(bad)} image(s) cannot be decoded (pass --skip-bad-images to go on)")
        keep = encoded.image_ok
        kept_ids = tuple(i for i, ok in zip(data.image_ids, keep, strict=True) if ok)
        if len(kept_ids) < TOP_K:
            raise InputError(problems, f"only {len(kept_ids)} images decode, fewer than {TOP_K}")
        info = dataclasses.replace(data.info, num_items={**data.info.num_items, "bad_images": len(bad)})
        skipped = ", ".join(f"{p.message} (line {p.line})" for p in problems)
        note = f"{len(bad)} image(s) could not be decoded and were left out of the pool: {skipped}"
        data = dataclasses.replace(data, image_ids=kept_ids, info=info)
        return data, l2_normalize(encoded.images[keep]), (note,)

    def evaluate(self, model: ModelAdapter, config: RunConfig, progress: Progress) -> TaskOutcome:
        if not isinstance(model, RetrievalAdapter):
            raise UsageError(f"{type(model).__name__} does not implement the retrieval protocol")
        self.check_split(config.split)
        started = time.perf_counter()
        data = load_retrieval_data(self.card, config.split, self.data_dir(config.data_dir), config.cache_dir)
        gold = data.gold
        if config.limit is not None:
            kept = gold.ids[: config.limit]
            gold = GoldQueries(
                gold.file,
                kept,
                {q: gold.texts[q] for q in kept},
                None if gold.relevant is None else {q: gold.relevant[q] for q in kept},
            )
        if len(data.image_ids) < TOP_K:
            raise InputError(
                [Problem(data.info.source, f"the pool has {len(data.image_ids)} images, fewer than {TOP_K}")]
            )
        timings = {"load_s": time.perf_counter() - started}
        started = time.perf_counter()
        encoded = SplitEncoder(model, data, gold, config, progress).encode()
        if encoded is None:  # a worker rank of a multi-process run: rank 0 ranks and writes
            return worker_outcome(data.info)
        timings.update(encoded.timings)
        timings["encode_s"] = time.perf_counter() - started
        encoded_ids = data.image_ids
        data, images_emb, bad_notes = self._drop_bad_images(data, encoded, model, config)
        texts_emb = l2_normalize(encoded.texts)
        backend, device = choose_backend(self.options.get("backend", "auto"), model)
        metrics: dict[str, float] = {}
        samples: list[Mapping[str, Any]] = []
        predictions: list[PredictionFile] = []
        notes: list[str] = list(bad_notes)
        for direction in self.card.directions:
            started = time.perf_counter()
            fields = DIRECTION_FIELDS[direction]
            if direction == "text_to_image":
                query_ids: Sequence[int] = gold.ids
                result = exact_topk(texts_emb[: len(gold.ids)], images_emb, TOP_K, backend, device=device)
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
            rankings = {
                q: tuple(int(targets[j]) for j in row) for q, row in zip(query_ids, result.indices, strict=True)
            }
            timings[f"rank_{direction}_s"] = time.perf_counter() - started
            predictions.append(
                PredictionFile(
                    prediction_file_name(direction), direction, write_rankings_jsonl(rankings, fields, self._spelling())
                )
            )
            if direction_gold is None:
                notes.append(f"{config.split} has no answers: predictions written, not scored")
                continue
            outcome = self.score(direction_gold, RetrievalSubmission("<run>", direction, rankings, 0))
            metrics.update(outcome.metrics)
            samples.extend(
                {**s, "query_text": gold.texts[s["query_id"]]} if direction == "text_to_image" else s
                for s in outcome.samples
            )
        protocol = {**self.protocol(backend), "directions": list(self.card.directions)}
        if config.skip_bad_images:
            protocol["skipped_images"] = [i for i, ok in zip(encoded_ids, encoded.image_ok, strict=True) if not ok]
        return TaskOutcome(
            dataset=data.info,
            metrics=metrics,
            metric_info=self.metric_infos(self.card.directions),
            main_metric=self._main_metric(self.card.directions),
            protocol=protocol,
            samples=tuple(samples),
            predictions=tuple(predictions),
            timings=timings,
            notes=tuple(notes),
        )
