"""The ``classification`` task type: zero-shot image classification with Chinese class
names and prompt templates, as Chinese-CLIP (``zeroshot_evaluation``) and CLIP_benchmark
evaluate it (ImageNet-1k with Chinese names, the ELEVATER datasets)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from muge_eval.cards import TaskCard
from muge_eval.classification.cache import IMAGES, PROMPTS, embedding_identity, prompt_identity
from muge_eval.classification.data import ClassificationData, gold_fingerprint, load_classification_data
from muge_eval.classification.gold import DEFAULT_LABEL_FILE, ClassificationGold, load_gold, read_header
from muge_eval.classification.metrics import MEAN_PER_CLASS_RULE, TOP_K, classification_metric_specs
from muge_eval.classification.prompts import (
    CHINESE_CLIP,
    ENSEMBLE_RULE,
    PREPROCESSING,
    build_prompts,
    ensemble_classifier,
    parse_templates,
)
from muge_eval.classification.ranking import SIMILARITY, TIE_RULE, topk_classes
from muge_eval.classification.scoring import score_predictions
from muge_eval.classification.submission import (
    PREDICTIONS_FILE,
    ClassificationSubmission,
    read_submission,
    write_predictions,
)
from muge_eval.encoding.encoder import Encoded, Encoder, settings_for
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import RETRIEVAL, RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_str, one_of

DIRECTION = "image_to_class"
FORMAT = "image-folder"
CLASS_INDEX_RULE = "position of the class folder's name in sorted order (torchvision's ImageFolder)"


def _label_file(value: Any) -> str:
    name = as_str(value)
    if not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError("must be a file name in the data directory")
    return name


class ClassificationTask(TaskType):
    name = "classification"
    summary = "zero-shot image classification: class names x prompt templates, top-1/top-5, mean per-class recall"
    capability = RETRIEVAL
    adapter_protocols = (RetrievalAdapter,)
    data_formats = (FORMAT,)
    directions = (DIRECTION,)
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption(
            "templates",
            "prompt templates with {} for the class name (a card lists them; on the command line comma-separated)",
            parse_templates,
        ),
        TaskOption(
            "label_file",
            f"the file of class names (one per line) in the data directory (default {DEFAULT_LABEL_FILE})",
            _label_file,
            default=DEFAULT_LABEL_FILE,
        ),
        TaskOption(
            "prompt_preprocessing",
            "chinese-clip (lower-case, “ ” -> \", as Chinese-CLIP's eval) or none",
            one_of(*PREPROCESSING),
            default=CHINESE_CLIP,
        ),
    )
    run_features = frozenset({"decode_workers", "skip_bad_images", "embedding_cache"})
    submission_formats = (
        SubmissionFormat(
            "classification-jsonl",
            PREDICTIONS_FILE,
            '{"image_id": "<class folder>/<file>", "labels": [5 class indices]} per image, best first',
            (DIRECTION,),
        ),
    )
    identity_protocol_keys = ("k", "prompts")
    item_key = "image_id"

    def __init__(self, card: TaskCard, options: Mapping[str, Any] | None = None, registries: Any = None):
        super().__init__(card, options, registries)
        if self.settings["templates"] is None:
            file = str(card.path) if card.path else card.name
            message = "required: the prompt templates, each with {} for the class name"
            raise InputError([Problem(file, message, None, "options.templates")], "invalid task card")
        self.templates: tuple[str, ...] = self.settings["templates"]
        self.label_file = str(self.settings["label_file"])
        self.preprocessing = str(self.settings["prompt_preprocessing"])

    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return classification_metric_specs()

    @classmethod
    def card_problems(cls, card: TaskCard, file: str) -> list[Problem]:
        problems = super().card_problems(card, file)
        if card.data.source != "local":
            problems.append(Problem(file, "classification data is a local ImageFolder", None, "data.source"))
        return problems

    def _check_direction(self, direction: str | None) -> None:
        if direction not in (None, DIRECTION):
            raise UsageError(f"classification submissions have no direction {direction!r} (only {DIRECTION})")

    def prompt_protocol(self) -> dict[str, Any]:
        return {"templates": list(self.templates), "preprocessing": self.preprocessing, "ensemble": ENSEMBLE_RULE}

    # --- submissions ---------------------------------------------------------------
    def load_gold(
        self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None
    ) -> ClassificationGold:
        self.check_split(split)
        self._check_direction(direction)
        if gold_path is not None:
            raise UsageError(
                "classification gold is the split's ImageFolder and label file: pass --data-dir (the folder"
                f" holding {split}/ and {self.label_file}), not --gold"
            )
        return load_gold(self.require_data_dir(data_dir), split, self.label_file)

    def read_submission(self, gold: ClassificationGold, path: Path, direction: str | None) -> ClassificationSubmission:
        self._check_direction(direction)
        return read_submission(path, gold)

    def _score(self, gold: ClassificationGold, submission: ClassificationSubmission) -> TaskOutcome:
        started = time.perf_counter()
        result = score_predictions(gold, submission.predictions)
        notes = gold.notes()
        if submission.ignored_images:
            notes.append(f"{submission.ignored_images} submitted images are not in the gold data and were ignored")
        info = DatasetInfo(
            source=f"gold:{gold.root}",
            format=self.card.data.format,
            split="",
            fingerprint=gold_fingerprint(gold),
            num_items={"images": len(gold.image_ids), "classes": gold.num_classes},
            files=(Path(gold.label_file).name,),
        )
        return TaskOutcome(
            dataset=info,
            metrics=result.metrics,
            protocol=self._score_protocol(gold),
            samples=result.samples,
            timings={"score_s": time.perf_counter() - started},
            notes=tuple(notes),
        )

    @staticmethod
    def _score_protocol(gold: ClassificationGold) -> dict[str, Any]:
        return {
            "k": min(TOP_K, gold.num_classes),
            "classes": gold.num_classes,
            "class_index": CLASS_INDEX_RULE,
            "mean_per_class_recall": MEAN_PER_CLASS_RULE,
        }

    # --- evaluating a model --------------------------------------------------------
    def check_ready(self, config: RunConfig) -> None:
        super().check_ready(config)
        read_header(self.require_data_dir(config.data_dir), config.split, self.label_file)

    def _bad_images(
        self, data: ClassificationData, encoded: Encoded, model: RetrievalAdapter, config: RunConfig
    ) -> tuple[set[str], list[str]]:
        """Fail on undecodable images with their list, or name them and leave them out."""
        from muge_eval.data.loader import decode_error

        bad = [int(r) for r in np.nonzero(~encoded.ok)[0]]
        if not bad:
            return set(), []
        transform = model.image_transform()
        problems = []
        for row in bad:
            path = Path(data.gold.root) / data.gold.image_ids[row]
            message = decode_error(data.rows.raw(row, row + 1)[0], transform) if transform else None
            problems.append(Problem(str(path), message or "cannot decode image", None, "image"))
        if not config.skip_bad_images:
            raise InputError(problems, f"{len(bad)} image(s) cannot be decoded (pass --skip-bad-images to go on)")
        dropped = {data.gold.image_ids[row] for row in bad}
        if len(dropped) == len(data.gold.image_ids):
            raise InputError(problems, "no image of the split can be decoded")
        shown = ", ".join(sorted(dropped)[:20])
        return dropped, [f"{len(bad)} image(s) could not be decoded and were left out of the scores: {shown}"]

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        assert isinstance(model, RetrievalAdapter)
        started = time.perf_counter()
        data = load_classification_data(
            self.card, config.split, self.data_dir(config.data_dir), self.label_file, config.limit
        )
        gold = data.gold
        prompts = build_prompts(gold.class_names, self.templates, self.preprocessing)
        timings = {"load_s": time.perf_counter() - started}
        started = time.perf_counter()
        encoder = Encoder(model, settings_for(config), progress, embedding_identity(data.info))
        texts = encoder.texts(PROMPTS, prompts.ids, prompts.texts, prompt_identity(prompts))
        images = encoder.images(IMAGES, data.rows)
        encoder.report()
        if texts is None or images is None:  # a worker rank of a multi-process run: rank 0 scores
            return TaskOutcome(dataset=data.info, metrics={}, protocol={}, notes=("worker rank",))
        timings.update(encoder.timings)
        timings["encode_s"] = time.perf_counter() - started
        started = time.perf_counter()
        dropped, notes = self._bad_images(data, images, model, config)
        classifier = ensemble_classifier(texts.embeddings, prompts)
        kept = images.ok if dropped else np.ones(len(gold.image_ids), dtype=np.bool_)
        predictions = self._predict(gold.image_ids, images.embeddings, kept, classifier)
        timings["rank_s"] = time.perf_counter() - started
        scored_gold = gold.without(dropped) if dropped else gold
        result = score_predictions(scored_gold, predictions)
        protocol: dict[str, Any] = {
            **self._score_protocol(gold),
            "prompts": self.prompt_protocol(),
            "similarity": SIMILARITY,
            "tie_rule": TIE_RULE,
        }
        if config.skip_bad_images:
            protocol["skipped_images"] = sorted(dropped)
        return TaskOutcome(
            dataset=data.info,
            metrics=result.metrics,
            protocol=protocol,
            samples=result.samples,
            predictions=(
                PredictionFile(PREDICTIONS_FILE, DIRECTION, write_predictions(scored_gold.image_ids, predictions)),
            ),
            timings=timings,
            notes=tuple(gold.notes() + notes),
        )

    @staticmethod
    def _predict(
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        kept: npt.NDArray[np.bool_],
        classifier: npt.NDArray[np.float64],
    ) -> dict[str, tuple[int, ...]]:
        """The top-k classes of every kept image, by image id."""
        rows = np.nonzero(kept)[0]
        ranked = topk_classes(embeddings[rows], classifier, TOP_K)
        return {ids[int(r)]: tuple(int(c) for c in ranked[n]) for n, r in enumerate(rows)}
