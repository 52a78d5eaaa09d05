"""Caption metrics as small pure functions over space-joined token strings.

Each returns ``MetricValues`` (corpus scores and per-image scores, both on pycocoevalcap's
0-1 scale; CIDEr-D is already x10 there). ``score_sentences`` computes several at once
sharing the n-gram counts; the task scales everything x100 as MUGE tables do.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from muge_eval.caption import scorers
from muge_eval.errors import UsageError

BLEU_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4")
DEFAULT_METRICS = (*BLEU_KEYS, "rouge_l", "cider_d")
OPTIONAL_METRICS = ("meteor",)
ALL_METRICS = DEFAULT_METRICS + OPTIONAL_METRICS


@dataclass(frozen=True)
class MetricValues:
    corpus: Mapping[str, float]
    per_image: Mapping[str, tuple[float, ...]]


def join_tokens(tokens: Sequence[str]) -> str:
    """Tokens as pycocoevalcap wants them: one space between tokens (Rouge splits on " ")."""
    return " ".join(t for t in tokens if t and not t.isspace())


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    for index, refs in enumerate(references):
        if not refs:
            raise ValueError(f"image {index} has no references")


def _counts(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[list, list]:
    return (
        [scorers.ngram_counts(h) for h in hypotheses],
        [[scorers.ngram_counts(r) for r in refs] for refs in references],
    )


def _bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], hyp_counts: list, ref_counts: list
) -> MetricValues:
    comps = [
        scorers.bleu_comps(h, len(hyp.split()), refs, [len(r.split()) for r in ref_texts])
        for hyp, ref_texts, h, refs in zip(hypotheses, references, hyp_counts, ref_counts, strict=True)
    ]
    result = scorers.bleu_from_comps(comps)
    return MetricValues(
        dict(zip(BLEU_KEYS, result.corpus, strict=True)),
        {key: tuple(values[k] for values in result.per_image) for k, key in enumerate(BLEU_KEYS)},
    )


def _cider(hyp_counts: list, ref_counts: list) -> MetricValues:
    idf = scorers.cider_idf(scorers.document_frequency(ref_counts), len(ref_counts))
    per_image = [scorers.cider_d_image(h, refs, idf) for h, refs in zip(hyp_counts, ref_counts, strict=True)]
    return MetricValues({"cider_d": float(np.mean(np.array(per_image)))}, {"cider_d": tuple(per_image)})


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """BLEU-1..4: corpus-level, closest reference length, no smoothing (pycocoevalcap Bleu(4))."""
    _check(hypotheses, references)
    return _bleu(hypotheses, references, *_counts(hypotheses, references))


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """ROUGE-L: LCS F-measure with beta 1.2 against the best reference, mean over images."""
    _check(hypotheses, references)
    per_image = [scorers.rouge_l_sentence(h, refs) for h, refs in zip(hypotheses, references, strict=True)]
    return MetricValues({"rouge_l": float(np.mean(np.array(per_image)))}, {"rouge_l": tuple(per_image)})


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """CIDEr-D (pycocoevalcap Cider()): document frequencies from this set's references."""
    _check(hypotheses, references)
    return _cider(*_counts(hypotheses, references))


def java_available() -> bool:
    return shutil.which("java") is not None


def meteor(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """METEOR 1.5 (pycocoevalcap's jar, ``-l en -norm``). For Chinese it is a character
    exact-match score: ``-norm`` splits CJK text into single characters and METEOR has no
    Chinese stemmer, synonyms or paraphrases. Needs ``java`` on the PATH."""
    _check(hypotheses, references)
    if not java_available():
        raise UsageError("METEOR needs Java: install a JRE so that `java` is on the PATH, or leave meteor out")
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        gts = {i: list(refs) for i, refs in enumerate(references)}
        res = {i: [h] for i, h in enumerate(hypotheses)}
        score, per_image = scorer.compute_score(gts, res)
    finally:
        process = scorer.meteor_p
        with scorer.lock:
            if process.stdin:
                process.stdin.close()
            process.kill()
            process.wait()
    return MetricValues({"meteor": float(score)}, {"meteor": tuple(float(x) for x in per_image)})


def check_metric_names(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown:
        raise UsageError(f"unknown caption metric(s) {', '.join(unknown)} (available: {', '.join(ALL_METRICS)})")
    return tuple(dict.fromkeys(names))


def score_sentences(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], metrics: Sequence[str] = DEFAULT_METRICS
) -> MetricValues:
    """The chosen metrics, computing n-gram counts once for BLEU and CIDEr-D."""
    chosen = check_metric_names(metrics)
    _check(hypotheses, references)
    corpus: dict[str, float] = {}
    per_image: dict[str, tuple[float, ...]] = {}
    parts: list[MetricValues] = []
    if "meteor" in chosen and not java_available():
        raise UsageError("METEOR needs Java: install a JRE so that `java` is on the PATH, or leave meteor out")
    if any(m in chosen for m in (*BLEU_KEYS, "cider_d")):
        hyp_counts, ref_counts = _counts(hypotheses, references)
        if any(m in chosen for m in BLEU_KEYS):
            parts.append(_bleu(hypotheses, references, hyp_counts, ref_counts))
        if "cider_d" in chosen:
            parts.append(_cider(hyp_counts, ref_counts))
    if "rouge_l" in chosen:
        parts.append(rouge_l(hypotheses, references))
    if "meteor" in chosen:
        parts.append(meteor(hypotheses, references))
    for part in parts:
        corpus.update(part.corpus)
        per_image.update(part.per_image)
    return MetricValues(
        {k: corpus[k] for k in chosen},
        {k: per_image[k] for k in chosen},
    )
