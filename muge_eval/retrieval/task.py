"""The ``retrieval`` task type: MUGE MR and the Chinese retrieval suite (Flickr30K-CN,
Flickr30k-CNA, COCO-CN 1k/5k, AIC-ICC, XM3600-zh, XTD10-zh, LIT-CN, DCI-CN, DOCCI-CN)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from muge_eval.errors import UsageError
from muge_eval.fingerprint import files_fingerprint
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import RETRIEVAL, RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.retrieval.data import find_local_files, released_format
from muge_eval.retrieval.gold import GoldQueries, invert_gold, read_gold_queries
from muge_eval.retrieval.metrics import BASE_METRICS, DIRECTION_PREFIX, metric_key, retrieval_metric_specs
from muge_eval.retrieval.ranking import BACKENDS, choose_backend
from muge_eval.retrieval.released_data import load_released_gold
from muge_eval.retrieval.released_layouts import LAYOUTS, find_annotation
from muge_eval.retrieval.schema import DIRECTION_FIELDS, TOP_K
from muge_eval.retrieval.scoring import score_rankings
from muge_eval.retrieval.split_pin import parse_pins
from muge_eval.retrieval.submission import (
    RetrievalSubmission,
    read_submission,
)
from muge_eval.specs import DatasetInfo, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_path, as_positive_int, as_str, one_of

TIE_RULE = "score descending, then pool position ascending"
RECALL_RULE = "official MUGE rules: a query hits at k when any relevant id is in its first k predictions"


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
        TaskOption(
            "pool_extra",
            "distractor images added to the pool (never relevant): a MUGE-layout TSV (id<TAB>base64)"
            " or a directory of image files; recorded in the protocol and the dataset fingerprint",
            as_path,
            flag="--pool-extra",
            card=False,
        ),
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
        if self.settings.get("pool_extra") is not None:
            from muge_eval.retrieval.pool_extra import check_pool_extra  # PIL: only when a model runs

            check_pool_extra(self.settings["pool_extra"])
        if self.card.data.source == "local":
            directory = self.require_data_dir(config.data_dir)
            if released_format(self.card, directory, config.split):
                find_annotation(self.card.data.format, directory, config.split, self.settings)
            else:
                find_local_files(directory, config.split)

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        # Imported here: loading images, encoding and ranking are needed to run a model, not
        # to score a submission (the score command starts without them).
        from muge_eval.retrieval.evaluation import evaluate_model

        return evaluate_model(self, model, config, progress)
