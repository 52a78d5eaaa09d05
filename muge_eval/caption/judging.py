"""The model-based caption metrics of a run or a submission: CLIP-S / RefCLIP-S by a
retrieval judge (``--judge``) and ``llm_judge`` by a chat judge (``--llm-judge``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import muge_eval.distributed as distributed
from muge_eval.cache import cache_dir
from muge_eval.caption.chat_judge import ChatJudgeSettings
from muge_eval.caption.clipscore import ClipJudgeSettings, judge_with_clip
from muge_eval.caption.data import CaptionImages
from muge_eval.caption.llm_judge import judge_pointwise
from muge_eval.metrics.spec import MetricSpec
from muge_eval.progress import Progress

if TYPE_CHECKING:
    from muge_eval.plugins import Registries

CLIP_METRICS = ("clip_s", "ref_clip_s")
LLM_METRICS = ("llm_judge",)


def judge_metric_specs() -> tuple[MetricSpec, ...]:
    """The judged metrics: means of per-image values stored in the samples."""
    return (
        MetricSpec(
            "clip_s",
            "CLIP-S: 100 x 2.5 x max(cos(caption, image), 0), mean over images, by the --judge retrieval model",
            True,
            "score_x100",
            "mean",
            item_fields=("clip_s",),
        ),
        MetricSpec(
            "ref_clip_s",
            "RefCLIP-S: 100 x harmonic mean of CLIP-S and the best reference cosine, by the --judge model",
            True,
            "score_x100",
            "mean",
            item_fields=("ref_clip_s",),
        ),
        MetricSpec(
            "llm_judge",
            "mean 1-10 score of a chat judge model with the shipped rubric (depends on the judge)",
            True,
            "score",
            "mean",
            item_fields=("llm_judge",),
        ),
    )


@dataclass(frozen=True)
class JudgeConfig:
    """Which judges, and the run settings they use (the score command has no run: defaults)."""

    clip: ClipJudgeSettings | None = None
    llm: ChatJudgeSettings | None = None
    cache_root: Path | None = None

    @property
    def any(self) -> bool:
        return self.clip is not None or self.llm is not None


@dataclass
class JudgeParts:
    metrics: dict[str, float] = field(default_factory=dict)
    per_item: dict[str, dict[str, Any]] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, metrics: Mapping[str, float], per_item: Mapping[str, Mapping[str, Any]]) -> None:
        self.metrics.update(metrics)
        for image_id, values in per_item.items():
            self.per_item.setdefault(image_id, {}).update(values)


def judge_captions(
    ids: Sequence[str],
    captions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    images: CaptionImages,
    dataset_fingerprint: str,
    config: JudgeConfig,
    progress: Progress,
    registries: Registries,
) -> JudgeParts | None:
    """The judges' metrics and per-image values on rank 0; None on the other ranks of a
    torchrun (they encode their share for the CLIP judge; the chat judge runs on rank 0)."""
    parts = JudgeParts()
    if config.clip is not None:
        clip = judge_with_clip(
            ids, captions, references, images.rows(ids), dataset_fingerprint, config.clip, progress, registries
        )
        if clip is None:
            return None
        parts.add(clip.metrics, clip.per_item)
        parts.protocol["clip_judge"] = dict(clip.protocol)
        parts.timings.update(clip.timings)
    if not distributed.context().is_main:
        return None
    if config.llm is not None:
        judged = judge_pointwise(
            ids,
            captions,
            references,
            images.load,
            dataset_fingerprint,
            config.llm,
            cache_dir("judgements", config.cache_root),
            progress,
        )
        parts.add(judged.metrics, judged.per_item)
        parts.protocol["llm_judge"] = dict(judged.protocol)
        parts.notes.extend(judged.notes)
        parts.timings.update(judged.timings)
    return parts
