"""The ``caption`` task type: MUGE ECommerce-IC and AI Challenger image captioning."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import muge_eval.distributed as distributed
from muge_eval.cache import cache_dir
from muge_eval.caption.adapters.base import CaptionAdapter, ReferenceBaseline
from muge_eval.caption.cache import CaptionCache
from muge_eval.caption.chat_judge import ChatJudgeSettings
from muge_eval.caption.clipscore import ClipJudgeSettings
from muge_eval.caption.data import (
    AIC_FORMAT,
    MUGE_FORMAT,
    CaptionImages,
    find_gold_file,
    images_beside_gold,
    is_aic,
    load_caption_data,
    read_gold,
)
from muge_eval.caption.generate import generate_captions
from muge_eval.caption.gold import CaptionGold
from muge_eval.caption.judging import (
    CLIP_METRICS,
    LLM_METRICS,
    JudgeConfig,
    JudgeParts,
    judge_captions,
    judge_metric_specs,
)
from muge_eval.caption.metrics import ALL_METRICS
from muge_eval.caption.scoring import SCORERS, caption_metric_specs, score_captions, scoring_protocol
from muge_eval.caption.submission import CaptionSubmission, read_aic_submission, read_muge_submission
from muge_eval.caption.tokenizers import CaptionTokenizer, build_tokenizer
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import files_fingerprint
from muge_eval.io.atomic import atomic_write_lines, atomic_write_text
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.args import parse_key_values
from muge_eval.models.base import CAPTION, origin_class
from muge_eval.plugins import Registries
from muge_eval.progress import Progress
from muge_eval.specs import RUN_FEATURES, DatasetInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_bool, as_str, judge_options, one_of

DEFAULT_CAPTION_PROMPT = "请用一句简洁的中文描述这张图片。"


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


class CaptionTask(TaskType):
    name = "caption"
    summary = (
        "image captioning: BLEU-1..4, ROUGE-L, CIDEr-D on Chinese tokens (pycocoevalcap arithmetic); "
        "CLIP-S/RefCLIP-S (--judge) and llm_judge (--llm-judge)"
    )
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
        TaskOption(
            "caption_prompt",
            "the instruction given to instruction-following captioners (hf-vlm, openai-chat), set by the card",
            as_str,
            DEFAULT_CAPTION_PROMPT,
        ),
        *judge_options("clip_s and ref_clip_s"),
        TaskOption(
            "llm_judge",
            "served model name of a chat judge (OpenAI-compatible endpoint) for llm_judge",
            as_str,
            flag="--llm-judge",
        ),
        TaskOption(
            "llm_judge_args",
            "the chat judge's settings: base_url, api_key_env, concurrency, timeout_s, max_retries, backoff_s, "
            "max_tokens, repair_attempts (k=v,...)",
            as_str,
            "",
            flag="--llm-judge-args",
        ),
    )
    # The CLIP judge encodes with decoding workers and the embedding cache (see check_run_config).
    judge_run_features = frozenset({"decode_workers", "embedding_cache"})
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
        self.judge_args = parse_key_values(self.settings["judge_args"], "--judge-args")
        llm = self.settings["llm_judge"]
        llm_args = parse_key_values(self.settings["llm_judge_args"], "--llm-judge-args")
        self.llm_judge = ChatJudgeSettings.parse(llm, llm_args, "--llm-judge-args") if llm else None

    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return caption_metric_specs() + judge_metric_specs()

    @classmethod
    def default_metrics(cls) -> tuple[str, ...]:
        return tuple(m for m in ALL_METRICS if m != "meteor")

    def _select_metrics(self) -> tuple[str, ...]:
        """The card's or the user's metrics, plus the judges' when a judge is given."""
        chosen = list(super()._select_metrics())
        for names, judge, flag in (
            (CLIP_METRICS, self.settings["judge"], "--judge"),
            (LLM_METRICS, self.settings["llm_judge"], "--llm-judge"),
        ):
            if judge:
                chosen.extend(n for n in names if n not in chosen)
            elif any(n in chosen for n in names):
                wanted = ", ".join(n for n in names if n in chosen)
                raise UsageError(f"{wanted} needs a judge model: pass {flag} MODEL")
        return tuple(chosen)

    @property
    def own_metrics(self) -> tuple[str, ...]:
        """The selected n-gram metrics (judges' and third-party ones come apart)."""
        return tuple(m for m in self.selected_metrics if m in ALL_METRICS)

    def adapter_defaults(self) -> dict[str, Any]:
        """The card's captioning instruction, for adapters that take ``instruction``."""
        return {"instruction": self.settings["caption_prompt"]}

    def judge_config(self, config: RunConfig | None) -> JudgeConfig:
        clip = None
        if self.settings["judge"]:
            clip = ClipJudgeSettings(
                self.settings["judge"],
                self.judge_args,
                batch_size=(config.batch_size or 32) if config else 32,
                chunk_rows=config.chunk_rows if config else 2048,
                num_workers=config.num_workers if config else None,
                cache_root=config.cache_dir if config else None,
                use_embedding_cache=config.use_embedding_cache if config else True,
                seed=config.seed if config else 1234,
            )
        return JudgeConfig(clip, self.llm_judge, config.cache_dir if config else None)

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
        judged: JudgeParts | None,
        extra_protocol: Mapping[str, Any],
        notes: list[str],
    ) -> tuple[dict[str, float], tuple[Mapping[str, Any], ...], dict[str, Any], dict[str, float], dict[str, Any]]:
        """(metrics, samples, protocol, timings, diagnostics)."""
        scored = score_captions(ids, captions, references, self.tokenizer(), self.own_metrics, self.scorer)
        empty = sum(1 for i in ids if not captions[i].strip())
        if empty:
            notes.append(f"{empty} of {len(ids)} captions are empty (scored as empty, not dropped)")
        notes.extend(scored.notes)
        metrics = dict(scored.metrics)
        samples = scored.samples
        protocol = {**scored.protocol, **extra_protocol, "empty_captions": empty}
        timings = dict(scored.timings)
        if judged is not None:
            metrics.update(judged.metrics)
            samples = tuple({**s, **judged.per_item.get(str(s["image_id"]), {})} for s in samples)
            protocol.update(judged.protocol)
            notes.extend(judged.notes)
            timings.update(judged.timings)
        return metrics, samples, protocol, timings, dict(scored.diagnostics)

    def _judge(
        self,
        ids: Sequence[str],
        captions: Mapping[str, str],
        references: Mapping[str, Sequence[str]],
        images: CaptionImages | None,
        fingerprint: str,
        config: RunConfig | None,
        progress: Progress,
    ) -> JudgeParts | None:
        judges = self.judge_config(config)
        if not judges.any:
            return None
        if images is None:
            raise UsageError("the judges need the images: this split's images were not loaded")
        return judge_captions(ids, captions, references, images, fingerprint, judges, progress, self.registries)

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
        judged = None
        if self.judge_config(None).any:
            images = images_beside_gold(self.card.data.format, Path(gold.file), gold, None)
            judged = self._judge(
                gold.ids, submission.captions, gold.references, images, info.fingerprint, None, Progress(quiet=True)
            )
        metrics, samples, protocol, timings, diagnostics = self._outcome(
            gold.ids, submission.captions, gold.references, judged, {}, notes
        )
        return TaskOutcome(
            dataset=info,
            metrics=metrics,
            protocol=protocol,
            samples=samples,
            timings=timings,
            notes=tuple(notes),
            diagnostics=diagnostics,
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

    def check_run_config(self, config: RunConfig) -> None:
        """Decoding workers and the embedding cache apply only with a CLIP judge."""
        if not self.settings["judge"]:
            super().check_run_config(config)
            return
        for feature, used in config.features_used().items():
            if used and feature not in self.judge_run_features:
                raise UsageError(f"{RUN_FEATURES[feature]} does not apply to {self.name} tasks ({self.card.name})")

    def check_ready(self, config: RunConfig) -> None:
        super().check_ready(config)
        find_gold_file(self.card.data.format, self.require_data_dir(config.data_dir), config.split)

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        started = time.perf_counter()
        baseline = isinstance(model, ReferenceBaseline)
        need_images = not baseline or self.judge_config(config).any
        data = load_caption_data(
            self.card.data.format, config.split, self.data_dir(config.data_dir), config.cache_dir, need_images
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
            cache = self._cache(model, config)
            captions = generate_captions(model, ids, data.load_images, cache, config.batch_size or 16, progress, notes)
            references = gold.references or {}
            extra["caption_prompt"] = self.settings["caption_prompt"]
            extra["generation"] = model.generation_settings()
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
        judged = self._judge(ids, captions, references, data.images, dataset.fingerprint, config, progress)
        if not distributed.context().is_main:  # rank 0 scores and writes; the others helped the judge
            return TaskOutcome(dataset=dataset, metrics={}, protocol={})
        metrics, samples, protocol, score_timings, diagnostics = self._outcome(
            ids, captions, references, judged, extra, notes
        )
        return TaskOutcome(
            dataset=dataset,
            metrics=metrics,
            protocol=protocol,
            samples=samples,
            predictions=predictions,
            timings={**timings, **score_timings},
            notes=tuple(notes),
            diagnostics=diagnostics,
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
