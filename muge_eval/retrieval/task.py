"""The ``retrieval`` task type: MUGE MR and the Chinese retrieval suite (Flickr30K-CN,
Flickr30k-CNA, COCO-CN 1k/5k, AIC-ICC, XM3600-zh, XTD10-zh, LIT-CN, DCI-CN, DOCCI-CN)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from muge_eval.encoding.encoder import Encoded, Encoder, bad_image_problems, settings_for
from muge_eval.encoding.images import TableImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import files_fingerprint
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import RETRIEVAL, RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.retrieval.cache import IMAGES, TEXTS, embedding_identity
from muge_eval.retrieval.data import RetrievalData, find_local_files, load_retrieval_data, released_format
from muge_eval.retrieval.gold import GoldQueries, invert_gold, read_gold_queries
from muge_eval.retrieval.metrics import BASE_METRICS, DIRECTION_PREFIX, metric_key, retrieval_metric_specs
from muge_eval.retrieval.ranking import BACKENDS, choose_backend, exact_topk, l2_normalize
from muge_eval.retrieval.released_data import load_released_gold, write_id_names
from muge_eval.retrieval.released_layouts import LAYOUTS, SPLIT_OPTIONS, find_annotation
from muge_eval.retrieval.schema import DIRECTION_FIELDS, TOP_K
from muge_eval.retrieval.scoring import score_rankings
from muge_eval.retrieval.split_pin import SplitCheck, check_split, parse_pins
from muge_eval.retrieval.submission import (
    RetrievalSubmission,
    prediction_file_name,
    read_submission,
    write_rankings_jsonl,
)
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_positive_int, as_str, one_of

TIE_RULE = "score descending, then pool position ascending"
RECALL_RULE = "official MUGE rules: a query hits at k when any relevant id is in its first k predictions"


def worker_outcome(info: DatasetInfo) -> TaskOutcome:
    """What a non-zero rank of a multi-process run hands back: nothing to write."""
    return TaskOutcome(dataset=info, metrics={}, protocol={}, notes=("worker rank",))


class RetrievalTask(TaskType):
    name = "retrieval"
    summary = "text-image retrieval: official MUGE Recall@1/5/10 and mean recall, mAP@10, nDCG@10"
    capability = RETRIEVAL
    adapter_protocols = (RetrievalAdapter,)
    data_formats = ("muge-mr", "chinese-clip", *LAYOUTS)
    directions = ("text_to_image", "image_to_text")
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption(
            "backend",
            "top-k backend: auto (torch on the model's GPU, else faiss when installed, else numpy),"
            " numpy, faiss or torch",
            one_of("auto", *BACKENDS),
            default="auto",
        ),
        TaskOption(
            "split_pins",
            "what each split is: {split: {images, texts, images_sha256}} (a run records whether it matches)",
            parse_pins,
            default={},
            user=False,
        ),
        TaskOption("first_images", "aic-icc: take the first N images of the annotation file", as_positive_int),
        TaskOption("language", "xm3600 / xtd10: the caption language", as_str, default="zh"),
        TaskOption("captions", "xm3600: all of an image's captions, or the first", one_of("all", "first"), "all"),
        TaskOption("annotations", "image-caption-tsv: the annotation file name", as_str),
    )
    run_features = frozenset({"decode_workers", "skip_bad_images", "embedding_cache"})
    submission_formats = (
        SubmissionFormat(
            "muge-mr-jsonl",
            "predictions.jsonl",
            '{"query_id": 1, "item_ids": [10 ints]} (or text_id/image_ids) per query, best first',
            ("text_to_image",),
        ),
        SubmissionFormat(
            "image-to-text-jsonl",
            "predictions_image_to_text.jsonl",
            '{"image_id": 1, "text_ids": [10 ints]} per image, best first',
            ("image_to_text",),
        ),
    )
    identity_protocol_keys = ("k", "pool_extra")
    item_key = "query_id"
    tianchi = True

    # --- declarations --------------------------------------------------------------
    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return retrieval_metric_specs()

    @classmethod
    def default_metrics(cls) -> tuple[str, ...]:
        return BASE_METRICS

    def _base_names(self) -> tuple[str, ...]:
        return BASE_METRICS

    def concrete_metric_names(self, names: Sequence[str]) -> tuple[str, ...]:
        """A base name (``r1``) stands for that metric in every direction the card ranks."""
        out: list[str] = []
        for name in names:
            if name in BASE_METRICS:
                out.extend(metric_key(d, name) for d in self.run_directions)
            else:
                out.append(name)
        return tuple(out)

    def _direction(self, direction: str | None) -> str:
        chosen = direction or self.run_directions[0]
        if chosen not in self.run_directions:
            raise UsageError(f"task {self.card.name!r} ranks {', '.join(self.run_directions)}, not {chosen!r}")
        return chosen

    def _spelling(self) -> int:
        # MUGE's own files say query_id/item_ids; the Chinese-CLIP layout says text_id/image_ids.
        return 0 if self.card.data.format.startswith("muge") else 1

    def protocol(self, backend: str) -> dict[str, Any]:
        return {
            "k": TOP_K,
            "tie_rule": TIE_RULE,
            "similarity": "inner product of L2-normalised embeddings, float64 rescoring of float32 candidates",
            "topk_backend": backend,
            "recall": RECALL_RULE,
        }

    # --- submissions ---------------------------------------------------------------
    def load_gold(
        self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None
    ) -> GoldQueries:
        self.check_split(split)
        if gold_path is None and released_format(self.card, self.require_data_dir(data_dir), split):
            gold = load_released_gold(self.card.data.format, self.require_data_dir(data_dir), split, self.settings)
            return invert_gold(gold) if self._direction(direction) == "image_to_text" else gold
        if gold_path is None:
            _, _, gold_path = find_local_files(self.require_data_dir(data_dir), split)
        gold = read_gold_queries(gold_path, require_answers=True)
        return invert_gold(gold) if self._direction(direction) == "image_to_text" else gold

    def read_submission(self, gold: GoldQueries, path: Path, direction: str | None) -> RetrievalSubmission:
        return read_submission(path, gold, DIRECTION_FIELDS[self._direction(direction)])

    def _score(self, gold: GoldQueries, submission: RetrievalSubmission) -> TaskOutcome:
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
            protocol={"k": TOP_K, "recall": RECALL_RULE, "direction": direction},
            samples=samples,
            timings={"score_s": time.perf_counter() - started},
            notes=notes,
        )

    def tianchi_success(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        """The official MUGE scorer's output object for a scored submission."""
        prefix = DIRECTION_PREFIX[self.run_directions[0]]
        names = ("mean_recall", "r1", "r5", "r10")
        found = [prefix + n for n in names if prefix + n in metrics]
        if len(found) < len(names):
            raise UsageError("--format tianchi needs r1, r5, r10 and mean_recall among the selected metrics")
        score = metrics[prefix + "mean_recall"]
        return {
            "success": True,
            "score": score,
            "scoreJson": {
                "score": score,
                "mean_recall": score,
                "r1": metrics[prefix + "r1"],
                "r5": metrics[prefix + "r5"],
                "r10": metrics[prefix + "r10"],
            },
        }

    # --- evaluating a model --------------------------------------------------------
    def check_ready(self, config: RunConfig) -> None:
        super().check_ready(config)
        choose_backend(self.settings["backend"])  # faiss asked for but not installed: fail now
        if self.card.data.source == "local":
            directory = self.require_data_dir(config.data_dir)
            if released_format(self.card, directory, config.split):
                find_annotation(self.card.data.format, directory, config.split, self.settings)
            else:
                find_local_files(directory, config.split)

    def _drop_bad_images(
        self, data: RetrievalData, rows: TableImageRows, encoded: Encoded, model: RetrievalAdapter, config: RunConfig
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

    def _split_check(self, data: RetrievalData, split: str) -> SplitCheck:
        """The loaded split against the card's pin (counted before ``--limit``)."""
        names: list[str | int] = [name for kind, _, name in data.id_names if kind == "image"]
        keys = names or list(data.image_ids)
        return check_split(keys, len(data.gold.ids), self.settings["split_pins"].get(split))

    def _split_options(self) -> dict[str, Any]:
        """The options that choose what a released format's split holds."""
        return {name: self.settings[name] for name in SPLIT_OPTIONS.get(self.card.data.format, ())}

    def _limited_gold(self, gold: GoldQueries, limit: int | None) -> GoldQueries:
        """--limit: the first N queries; the pool stays whole."""
        if limit is None:
            return gold
        kept = gold.ids[:limit]
        relevant = None if gold.relevant is None else {q: gold.relevant[q] for q in kept}
        return GoldQueries(gold.file, kept, {q: gold.texts[q] for q in kept}, relevant)

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        assert isinstance(model, RetrievalAdapter)
        started = time.perf_counter()
        data = load_retrieval_data(
            self.card, config.split, self.data_dir(config.data_dir), config.cache_dir, self.settings
        )
        split_check = self._split_check(data, config.split)
        gold = self._limited_gold(data.gold, config.limit)
        if len(data.image_ids) < TOP_K:
            raise InputError(
                [Problem(data.info.source, f"the pool has {len(data.image_ids)} images, fewer than {TOP_K}")]
            )
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
        data, images_emb, bad_notes = self._drop_bad_images(data, rows, images, model, config)
        texts_emb = l2_normalize(texts.embeddings)
        backend, device = choose_backend(self.settings["backend"], model.topk_device)
        metrics: dict[str, float] = {}
        samples: list[Mapping[str, Any]] = []
        predictions: list[PredictionFile] = []
        notes: list[str] = list(bad_notes)
        if split_check.differences:
            notes.append(
                f"this {config.split} split is not the card's pinned one: {'; '.join(split_check.differences)}"
            )
        if data.id_names:
            predictions.append(PredictionFile("ids.tsv", "ids", write_id_names(data.id_names)))
        for direction in self.run_directions:
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
            outcome = self._score(direction_gold, RetrievalSubmission("<run>", direction, rankings, 0))
            metrics.update(outcome.metrics)
            samples.extend(
                {**s, "query_text": gold.texts[s["query_id"]]} if direction == "text_to_image" else s
                for s in outcome.samples
            )
        protocol = {**self.protocol(backend), "directions": list(self.run_directions), "split": split_check.recorded()}
        protocol["split"]["options"] = self._split_options()
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
