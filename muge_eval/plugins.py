"""The registries of one session: built-in entries (lazy import paths), task cards from
the built-in and user directories, and third-party entry points."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.cards import TaskCard, builtin_tasks_dir, find_card_files, load_card
from muge_eval.registry import Registry

# The built-in task types: one registration line each (name -> (class, summary)); the
# class is the single source of truth about its type. Imported only when used.
BUILTIN_TASK_TYPES = {
    "retrieval": ("muge_eval.retrieval.task:RetrievalTask", "text-image retrieval, Recall@k and mean recall"),
    "caption": ("muge_eval.caption.task:CaptionTask", "image captioning, BLEU/ROUGE-L/CIDEr-D on Chinese tokens"),
    "t2i": ("muge_eval.t2i.task:T2ITask", "text-to-image: FID, IS, CLIP score, R-precision"),
    "classification": ("muge_eval.classification.task:ClassificationTask", "zero-shot image classification, top-1/5"),
}
# name -> (import path, one-line summary) of the built-in model adapters.
BUILTIN_MODELS = {
    "random": (
        "muge_eval.retrieval.adapters.random_baseline:RandomRetrieval",
        "retrieval: seeded random embeddings, the chance baseline",
    ),
    "features": (
        "muge_eval.retrieval.adapters.features:PrecomputedFeatures",
        "retrieval: precomputed embeddings (Chinese-CLIP *_feat.jsonl or .npy + ids)",
    ),
    "predictions": (
        "muge_eval.t2i.adapters.predictions:PredictionsGenerator",
        "generation: existing images (TSV or dir)",
    ),
    "procedural": ("muge_eval.t2i.adapters.procedural:ProceduralGenerator", "generation: colour-keyword baseline"),
    "diffusers": ("muge_eval.t2i.adapters.diffusers_pipeline:DiffusersGenerator", "generation: a diffusers pipeline"),
    "openai-images": (
        "muge_eval.t2i.adapters.openai_images:OpenAIImagesGenerator",
        "generation: an OpenAI-compatible images endpoint (b64_json)",
    ),
    "hf-chinese-clip": (
        "muge_eval.retrieval.adapters.hf_chinese_clip:HFChineseCLIP",
        "retrieval: transformers ChineseCLIPModel from a directory or hub id (needs torch, transformers)",
    ),
    "cn-clip": (
        "muge_eval.retrieval.adapters.cn_clip_adapter:CNCLIP",
        "retrieval: cn_clip models by name and a released or fine-tuned checkpoint (needs cn_clip)",
    ),
    "open-clip": (
        "muge_eval.retrieval.adapters.open_clip_adapter:OpenCLIP",
        "retrieval: open_clip multilingual models by name and pretrained tag or file (needs open_clip)",
    ),
    "hf-captioner": (
        "muge_eval.caption.adapters.hf_captioner:HFCaptioner",
        "caption: local/hub transformers image-to-text",
    ),
    "openai-chat": (
        "muge_eval.caption.adapters.openai_chat:OpenAIChatCaptioner",
        "caption: OpenAI-compatible chat server",
    ),
    "human": ("muge_eval.caption.adapters.human:HumanBaseline", "caption: one reference held out vs the rest"),
}
BUILTIN_TOKENIZERS: dict[str, tuple[str, str]] = {
    "char": ("muge_eval.caption.tokenizers:CharTokenizer", "MUGE rule: one token per Chinese character / ASCII run"),
    "jieba": ("muge_eval.caption.tokenizers:JiebaTokenizer", "jieba 0.42.1 precise mode, HMM, private dictionary"),
    "whitespace": ("muge_eval.caption.tokenizers:WhitespaceTokenizer", "already segmented text"),
}


@dataclass(frozen=True)
class Registries:
    tasks: Registry[TaskCard]
    task_types: Registry[Any]
    models: Registry[Any]
    # Third-party metrics (MetricSpec objects); a task type's own metrics are its specs.
    metrics: Registry[Any]
    tokenizers: Registry[Any]


def _fill(registry: Registry[Any], entries: dict[str, tuple[str, str]]) -> Registry[Any]:
    for name, (path, summary) in entries.items():
        registry.add(name, path, summary)
    return registry


def _card_summary(card: TaskCard) -> str:
    first = card.description.splitlines()[0] if card.description else ""
    return f"{card.type}: {first}".rstrip(": ")


def _task_registry(tasks_dirs: Iterable[Path]) -> Registry[TaskCard]:
    registry: Registry[TaskCard] = Registry("task", "muge_eval.tasks")
    # User directories first, so a user's card may shadow a built-in one of the same name.
    for directory in [*tasks_dirs, builtin_tasks_dir()]:
        for path in find_card_files(directory):
            card = load_card(path)
            if card.name not in registry:
                registry.add(card.name, functools.partial(lambda c: c, card), _card_summary(card), str(path))
    return registry


def task_type_registry() -> Registry[Any]:
    """The task types alone: built-ins and the ``muge_eval.task_types`` entry points."""
    return _fill(Registry("task type", "muge_eval.task_types"), BUILTIN_TASK_TYPES)


def build_registries(tasks_dirs: Iterable[Path] = ()) -> Registries:
    return Registries(
        tasks=_task_registry(tasks_dirs),
        task_types=task_type_registry(),
        models=_fill(Registry("model", "muge_eval.models"), BUILTIN_MODELS),
        metrics=Registry("metric", "muge_eval.metrics"),
        tokenizers=_fill(Registry("tokenizer", "muge_eval.tokenizers"), BUILTIN_TOKENIZERS),
    )


def resolve_card(registries: Registries, name: str) -> TaskCard:
    """A card by name; an entry-point plugin may hand a TaskCard or the path of a card file."""
    found = registries.tasks.get(name)
    if isinstance(found, (str, Path)):
        return load_card(Path(found))
    return found
