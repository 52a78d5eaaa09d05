"""Tokenize, score and describe: from captions and references to a TaskOutcome's parts."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from muge_eval.caption.metrics import ALL_METRICS, BLEU_KEYS, bleu_statistics_of, join_tokens, score_sentences
from muge_eval.caption.pycocoevalcap_backend import score_sentences_pycocoevalcap
from muge_eval.caption.style import style_diagnostics
from muge_eval.caption.tokenizers import CaptionTokenizer, tokenize_all
from muge_eval.environment import package_version
from muge_eval.errors import UsageError
from muge_eval.metrics.spec import MetricSpec

SCALE = 100.0
METRIC_DESCRIPTIONS = {
    "bleu1": "BLEU-1, corpus level, closest reference length, no smoothing (x100)",
    "bleu2": "BLEU-2, corpus level, closest reference length, no smoothing (x100)",
    "bleu3": "BLEU-3, corpus level, closest reference length, no smoothing (x100)",
    "bleu4": "BLEU-4, corpus level, closest reference length, no smoothing (x100)",
    "rouge_l": "ROUGE-L F-measure (beta 1.2) against the best reference, mean over images (x100)",
    "cider_d": "CIDEr-D (sigma 6, clipped, x10), idf from this set's references, mean over images (x100); "
    "its interval resamples the per-image scores with the idf of the whole set held fixed",
    "meteor": "METEOR 1.5 (-l en -norm); on Chinese a character exact-match score (x100)",
}
_CORPUS = {"meteor": "METEOR's corpus score is computed by its jar over all images at once"}
# Per image: [hypothesis length, closest reference length, guesses 1..4, clipped matches 1..4].
BLEU_STATS_FIELD = "bleu_stats"


@dataclass(frozen=True)
class ScoredCaptions:
    metrics: Mapping[str, float]
    samples: tuple[Mapping[str, Any], ...]
    protocol: Mapping[str, Any]
    timings: Mapping[str, float]
    diagnostics: Mapping[str, Any]
    notes: tuple[str, ...]


def caption_metric_specs() -> tuple[MetricSpec, ...]:
    """The caption metrics, x100 as MUGE tables report them. ROUGE-L and CIDEr-D are means
    of per-image scores (stored in the samples; CIDEr-D's with the whole set's idf); BLEU is
    corpus-level, recomputed from per-image sufficient statistics for its interval;
    METEOR's corpus score comes from its jar (no interval)."""
    specs = []
    for name in ALL_METRICS:
        # CIDEr-D is x10 in pycocoevalcap and x100 here, so it is not bounded by 100.
        unit = "score_x100" if name == "cider_d" else "percent"
        if name in BLEU_KEYS:
            specs.append(
                MetricSpec(
                    name,
                    METRIC_DESCRIPTIONS[name],
                    True,
                    unit,
                    "corpus",
                    item_fields=(BLEU_STATS_FIELD,),
                    scale=SCALE,
                    recompute="bleu",
                    recompute_args=(("order", int(name[-1])),),
                )
            )
        elif name in _CORPUS:
            specs.append(MetricSpec(name, METRIC_DESCRIPTIONS[name], True, unit, "corpus", no_interval=_CORPUS[name]))
        else:
            specs.append(MetricSpec(name, METRIC_DESCRIPTIONS[name], True, unit, "mean", item_fields=(name,)))
    return tuple(specs)


SCORERS = {
    "fast": "muge-eval's exact re-implementation of pycocoevalcap 1.2 Bleu(4)/Rouge()/Cider() arithmetic "
    "on space-joined tokens, no PTB tokenizer, no SPICE",
    "pycocoevalcap": "pycocoevalcap Bleu(4)/Rouge()/Cider() called directly on space-joined tokens, "
    "no PTB tokenizer, no SPICE",
}


def check_scorer(value: Any) -> str:
    name = "fast" if value in (None, "") else str(value)
    if name not in SCORERS:
        raise UsageError(f"unknown caption scorer {name!r} (available: {', '.join(SCORERS)})")
    return name


def scoring_protocol(
    tokenizer: CaptionTokenizer, metrics: Sequence[str], num_images: int, scorer: str = "fast"
) -> dict[str, Any]:
    return {
        "tokenizer": tokenizer.describe(),
        "metrics": list(metrics),
        "scale": "x100",
        "scorer": SCORERS[scorer],
        "cider_document_frequency": f"from the references of the {num_images} images scored",
        "versions": {
            "pycocoevalcap": package_version("pycocoevalcap") or "not installed",
            "jieba": package_version("jieba") or "not installed",
        },
    }


def score_captions(
    ids: Sequence[str],
    captions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    tokenizer: CaptionTokenizer,
    metrics: Sequence[str],
    scorer: str = "fast",
) -> ScoredCaptions:
    """Metrics (x100) over ``ids`` and one sample record per image with its own scores."""
    started = time.perf_counter()
    hyp_texts = [captions[i] for i in ids]
    ref_texts = [list(references[i]) for i in ids]
    flat_refs = [r for refs in ref_texts for r in refs]
    tokens = tokenize_all(tokenizer, hyp_texts + flat_refs)
    hyp_tokens = tokens[: len(hyp_texts)]
    ref_tokens: list[list[list[str]]] = []
    position = len(hyp_texts)
    for refs in ref_texts:
        ref_tokens.append(tokens[position : position + len(refs)])
        position += len(refs)
    tokenized = time.perf_counter()
    hyp_joined = [join_tokens(t) for t in hyp_tokens]
    ref_joined = [[join_tokens(t) for t in refs] for refs in ref_tokens]
    if scorer == "pycocoevalcap":
        values = score_sentences_pycocoevalcap(hyp_joined, ref_joined, metrics)
        bleu_stats = bleu_statistics_of(hyp_joined, ref_joined) if any(m in BLEU_KEYS for m in metrics) else []
    else:
        values = score_sentences(hyp_joined, ref_joined, metrics)
        bleu_stats = [list(row) for row in values.bleu_stats]
    scored = time.perf_counter()
    style = style_diagnostics(hyp_texts, ref_texts, hyp_tokens, ref_tokens)
    samples = tuple(
        {
            "image_id": image_id,
            "caption": hyp_texts[index],
            "caption_tokens": hyp_tokens[index],
            "references": ref_texts[index],
            **{name: values.per_image[name][index] * SCALE for name in values.per_image},
            **({BLEU_STATS_FIELD: bleu_stats[index]} if bleu_stats else {}),
            "caption_chars": style.per_image[index][0],
            "reference_chars": style.per_image[index][1],
        }
        for index, image_id in enumerate(ids)
    )
    return ScoredCaptions(
        metrics={name: value * SCALE for name, value in values.corpus.items()},
        samples=samples,
        protocol=scoring_protocol(tokenizer, list(values.corpus), len(ids), scorer),
        timings={"tokenize_s": tokenized - started, "score_s": scored - tokenized},
        diagnostics={"style": dict(style.summary)},
        notes=style.notes,
    )
