"""The ``caption`` task type: MUGE ECommerce-IC and AI Challenger image captioning."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from muge_eval.cache import cache_dir
from muge_eval.caption.adapters.base import CaptionAdapter, ReferenceBaseline
from muge_eval.caption.cache import CaptionCache
from muge_eval.caption.data import AIC_FORMAT, MUGE_FORMAT, find_gold_file, is_aic, load_caption_data, read_gold
from muge_eval.caption.gold import CaptionGold
from muge_eval.caption.metrics import ALL_METRICS
from muge_eval.caption.scoring import SCORERS, caption_metric_specs, score_captions, scoring_protocol
from muge_eval.caption.submission import CaptionSubmission, read_aic_submission, read_muge_submission
from muge_eval.caption.tokenizers import CaptionTokenizer, build_tokenizer
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import files_fingerprint
from muge_eval.io.atomic import atomic_write_lines, atomic_write_text
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import CAPTION, origin_class
from muge_eval.plugins import Registries
from muge_eval.progress import Progress
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_bool, as_str, one_of


def write_muge_predictions(captions: Mapping[str, str]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        atomic_write_lines(
            path, lambda: (json.dumps({"image_id": i, "text": t}, ensure_ascii=False) for i, t in captions.items())
        )

    return write


def write_aic_predictions(captions: Mapping[str, str]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        entries = [{"image_id": i, "caption": t} for i, t in captions.items()]
        atomic_write_text(path, json.dumps(entries, ensure_ascii=False, indent=1) + "\n")

    return write


def _check_captions(output: Any, expected: int, model: object) -> list[str]:
    if not isinstance(output, (list, tuple)) or len(output) != expected:
        size = len(output) if isinstance(output, (list, tuple)) else type(output).__name__
        raise UsageError(f"{type(model).__name__}.caption returned {size} captions for {expected} images")
    bad = [type(c).__name__ for c in output if not isinstance(c, str)]
    if bad:
        raise UsageError(f"{type(model).__name__}.caption returned non-string captions ({bad[0]})")
    return list(output)


class CaptionTask(TaskType):
    name = "caption"
    summary = "image captioning: BLEU-1..4, ROUGE-L, CIDEr-D on Chinese tokens (pycocoevalcap arithmetic)"
    capability = CAPTION
    adapter_protocols = (CaptionAdapter, ReferenceBaseline)
    data_formats = (MUGE_FORMAT, AIC_FORMAT)
    directions = ("image_to_text",)
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption(
            "tokenizer",
            "caption tokenizer: char (MUGE rule), jieba, whitespace, or a registered/module:Class name",
            as_str,
            default="char",
            flag="--tokenizer",
        ),
        TaskOption(
            "scorer",
            "fast (default: exact re-implementation, shared n-gram counts) or pycocoevalcap (its scorers)",
            one_of(*SCORERS),
            default="fast",
        ),
        TaskOption("caption_cache", "reuse and keep model captions in the cache (default true)", as_bool, True),
    )
    submission_formats = (
        SubmissionFormat("muge-ic-jsonl", "predictions.jsonl", '{"image_id": "<hex>", "text": "<caption>"} per image'),
        SubmissionFormat("aic-json", "predictions.json", 'a JSON list of {"image_id", "caption"} (AI Challenger)'),
    )
    identity_protocol_keys = ("tokenizer",)
    item_key = "image_id"
    tianchi = True

    def __init__(self, card: Any, options: Mapping[str, Any] | None = None, registries: Registries | None = None):
        super().__init__(card, options, registries)
        self.tokenizer_name = str(self.settings["tokenizer"])
        self._tokenizer = build_tokenizer(self.tokenizer_name, self.registries.tokenizers)  # fails before any work
        self.scorer = str(self.settings["scorer"])

    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return caption_metric_specs()

    @classmethod
    def default_metrics(cls) -> tuple[str, ...]:
        return tuple(m for m in ALL_METRICS if m != "meteor")

    @property
    def own_metrics(self) -> tuple[str, ...]:
        """The selected metrics this type computes (third-party ones come later)."""
        return tuple(m for m in self.selected_metrics if m in ALL_METRICS)

    def tokenizer(self) -> CaptionTokenizer:
        return self._tokenizer

    @property
    def aic(self) -> bool:
        return is_aic(self.card.data.format)

    def load_gold(
        self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None
    ) -> CaptionGold:
        self.check_split(split)
        if gold_path is None:
            gold_path = find_gold_file(self.card.data.format, self.require_data_dir(data_dir), split)
        return read_gold(self.card.data.format, gold_path, require_references=True)

    def read_submission(self, gold: CaptionGold, path: Path, direction: str | None) -> CaptionSubmission:
        return read_aic_submission(path, gold) if self.aic else read_muge_submission(path, gold)

    def _outcome(
        self,
        ids: Sequence[str],
        captions: Mapping[str, str],
        references: Mapping[str, Sequence[str]],
        extra_protocol: Mapping[str, Any],
        notes: list[str],
    ) -> tuple[dict[str, float], tuple[Mapping[str, Any], ...], dict[str, Any], dict[str, float]]:
        scored = score_captions(ids, captions, references, self.tokenizer(), self.own_metrics, self.scorer)
        empty = sum(1 for i in ids if not captions[i].strip())
        if empty:
            notes.append(f"{empty} of {len(ids)} captions are empty (scored as empty, not dropped)")
        protocol = {**scored.protocol, **extra_protocol, "empty_captions": empty}
        return dict(scored.metrics), scored.samples, protocol, dict(scored.timings)

    def _score(self, gold: CaptionGold, submission: CaptionSubmission) -> TaskOutcome:
        assert gold.references is not None
        notes: list[str] = []
        info = DatasetInfo(
            source=f"gold:{gold.file}",
            format=self.card.data.format,
            split="",
            fingerprint=files_fingerprint([Path(gold.file)]) if Path(gold.file).is_file() else "",
            num_items={"images": len(gold.ids)},
        )
        metrics, samples, protocol, timings = self._outcome(gold.ids, submission.captions, gold.references, {}, notes)
        return TaskOutcome(
            dataset=info,
            metrics=metrics,
            protocol=protocol,
            samples=samples,
            timings=timings,
            notes=tuple(notes),
        )

    def _cache(self, model: CaptionAdapter, config: RunConfig) -> CaptionCache | None:
        if not self.settings["caption_cache"]:
            return None
        identity = model.cache_identity()
        if identity is None:
            return None
        implementation = origin_class(model)
        return CaptionCache(
            cache_dir("captions", config.cache_dir),
            f"{implementation.__module__}.{implementation.__qualname__}:{identity}",
            model.generation_settings(),
        )

    def _generate(
        self,
        model: Any,
        ids: Sequence[str],
        load: Callable[[Sequence[str]], list[Any]],
        config: RunConfig,
        progress: Progress,
        notes: list[str],
    ) -> dict[str, str]:
        cache = self._cache(model, config)
        done = cache.load() if cache is not None else {}
        todo = [i for i in ids if i not in done]
        if cache is not None and len(todo) < len(ids):
            notes.append(f"{len(ids) - len(todo)} captions reused from the cache {cache.path}")
        bar = progress.bar(len(ids), "caption", "img")
        bar.update(len(ids) - len(todo))
        batch_size = config.batch_size or 16
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            outputs = _check_captions(model.caption(load(batch)), len(batch), model)
            new = dict(zip(batch, outputs, strict=True))
            if cache is not None:
                cache.append(new)
            done.update(new)
            bar.update(len(batch))
        bar.close()
        return {i: done[i] for i in ids}

    def check_ready(self, config: RunConfig) -> None:
        super().check_ready(config)
        find_gold_file(self.card.data.format, self.require_data_dir(config.data_dir), config.split)

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        started = time.perf_counter()
        baseline = isinstance(model, ReferenceBaseline)
        data = load_caption_data(
            self.card.data.format, config.split, self.data_dir(config.data_dir), config.cache_dir, not baseline
        )
        gold = data.gold
        if config.limit is not None:
            gold = gold.subset(gold.ids[: config.limit])
        notes: list[str] = []
        if config.limit is not None:
            notes.append("CIDEr-D idf comes from the scored images only: a --limit score is not comparable")
        timings = {"load_s": time.perf_counter() - started}
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        references: Mapping[str, Sequence[str]]
        if isinstance(model, ReferenceBaseline):
            if gold.references is None:
                raise UsageError(f"the human baseline needs reference captions; split {config.split} has none")
            ids, captions, references = self._hold_out(model, gold, notes)
            extra["human_baseline"] = "one reference per image held out as the hypothesis, scored against the rest"
        else:
            ids = gold.ids
            captions = self._generate(model, ids, data.load_images, config, progress, notes)
            references = gold.references or {}
        timings["caption_s"] = time.perf_counter() - started
        writer = write_aic_predictions if self.aic else write_muge_predictions
        name = "predictions.json" if self.aic else "predictions.jsonl"
        predictions = (PredictionFile(name, "image_to_text", writer(captions)),)
        dataset = dataclasses.replace(data.info, num_items={"images": len(ids)})
        if gold.references is None:
            notes.append(f"{config.split} has no reference captions: predictions written, not scored")
            return TaskOutcome(
                dataset=dataset,
                metrics={},
                protocol={**scoring_protocol(self.tokenizer(), self.own_metrics, len(ids), self.scorer), **extra},
                predictions=predictions,
                timings=timings,
                notes=tuple(notes),
            )
        metrics, samples, protocol, score_timings = self._outcome(ids, captions, references, extra, notes)
        return TaskOutcome(
            dataset=dataset,
            metrics=metrics,
            protocol=protocol,
            samples=samples,
            predictions=predictions,
            timings={**timings, **score_timings},
            notes=tuple(notes),
        )

    @staticmethod
    def _hold_out(
        model: ReferenceBaseline, gold: CaptionGold, notes: list[str]
    ) -> tuple[tuple[str, ...], dict[str, str], dict[str, tuple[str, ...]]]:
        assert gold.references is not None
        ids: list[str] = []
        captions: dict[str, str] = {}
        references: dict[str, tuple[str, ...]] = {}
        for image_id in gold.ids:
            refs = gold.references[image_id]
            if len(refs) < 2:
                continue
            captions[image_id], references[image_id] = model.hold_out(image_id, refs)
            ids.append(image_id)
        skipped = len(gold.ids) - len(ids)
        if skipped:
            notes.append(f"{skipped} images with a single reference were left out of the human baseline")
        if not ids:
            raise InputError([Problem(gold.file, "no image has two or more references")])
        return tuple(ids), captions, references
