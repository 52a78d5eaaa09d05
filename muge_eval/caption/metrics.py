"""Caption metrics as small pure functions over space-joined token strings.

Each returns ``MetricValues`` (corpus scores and per-image scores, both on pycocoevalcap's
0-1 scale; CIDEr-D is already x10 there). ``score_sentences`` computes several at once:
BLEU and CIDEr-D vectorised over the whole corpus from one n-gram table
(``corpus_scores``), ROUGE-L per image in worker processes meanwhile (``parallel``); the
task scales everything x100 as MUGE tables do. The values are pycocoevalcap's, bit for bit.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from muge_eval.caption import scorers
from muge_eval.caption.corpus_scores import (
    BleuStatistics,
    Corpus,
    OrderJoin,
    bleu_statistics,
    build_corpus,
    cider_d_scores,
    join_order,
)
from muge_eval.caption.ngram_table import MAX_N
from muge_eval.caption.parallel import call_with_background, default_workers, rouge_l_chunk
from muge_eval.errors import UsageError

BLEU_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4")
DEFAULT_METRICS = (*BLEU_KEYS, "rouge_l", "cider_d")
OPTIONAL_METRICS = ("meteor",)
ALL_METRICS = DEFAULT_METRICS + OPTIONAL_METRICS


@dataclass(frozen=True)
class MetricValues:
    corpus: Mapping[str, float]
    per_image: Mapping[str, tuple[float, ...]]
    # Per image, BLEU's sufficient statistics [hyp length, closest reference length,
    # guesses 1..4, clipped matches 1..4] (when BLEU was computed): the bootstrap
    # recomputes corpus BLEU from their resampled sums.
    bleu_stats: tuple[tuple[int, ...], ...] = ()


def join_tokens(tokens: Sequence[str]) -> str:
    """Tokens as pycocoevalcap wants them: one space between tokens (Rouge splits on " ")."""
    return " ".join(t for t in tokens if t and not t.isspace())


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    for index, refs in enumerate(references):
        if not refs:
            raise ValueError(f"image {index} has no references")


def _bleu(corpus: Corpus, joins: Sequence[OrderJoin]) -> tuple[MetricValues, BleuStatistics]:
    stats = bleu_statistics(corpus, joins)
    comps = [
        (h, r, list(g), list(c))
        for h, r, g, c in zip(
            stats.hyp_len.tolist(), stats.ref_len.tolist(), stats.guess.tolist(), stats.correct.tolist(), strict=True
        )
    ]
    result = scorers.bleu_from_comps(comps)
    values = MetricValues(
        dict(zip(BLEU_KEYS, result.corpus, strict=True)),
        {key: tuple(values[k] for values in result.per_image) for k, key in enumerate(BLEU_KEYS)},
    )
    return values, stats


def _cider(corpus: Corpus, joins: Sequence[OrderJoin]) -> MetricValues:
    per_image = cider_d_scores(corpus, joins)
    return MetricValues({"cider_d": float(np.mean(per_image))}, {"cider_d": tuple(per_image.tolist())})


def _joined(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[Corpus, list[OrderJoin]]:
    corpus = build_corpus(hypotheses, references)
    return corpus, [join_order(corpus, n) for n in range(1, MAX_N + 1)]


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """BLEU-1..4: corpus-level, closest reference length, no smoothing (pycocoevalcap Bleu(4))."""
    _check(hypotheses, references)
    return _bleu(*_joined(hypotheses, references))[0]


def _rouge_values(per_image: Sequence[float]) -> MetricValues:
    return MetricValues({"rouge_l": float(np.mean(np.array(per_image)))}, {"rouge_l": tuple(per_image)})


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """ROUGE-L: LCS F-measure with beta 1.2 against the best reference, mean over images."""
    _check(hypotheses, references)
    return _rouge_values(rouge_l_chunk(hypotheses, references))


def bleu_statistics_of(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[list[int]]:
    """Per image: [hyp length, closest reference length, guesses 1..4, clipped matches 1..4]."""
    _check(hypotheses, references)
    table, joins = _joined(hypotheses, references)
    return bleu_statistics(table, joins).rows()


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricValues:
    """CIDEr-D (pycocoevalcap Cider()): document frequencies from this set's references."""
    _check(hypotheses, references)
    return _cider(*_joined(hypotheses, references))


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
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    workers: int | None = None,
) -> MetricValues:
    """The chosen metrics, computing n-gram counts once for BLEU and CIDEr-D. ROUGE-L runs
    in ``workers`` processes (None: one per spare core on a large corpus, see
    ``parallel.default_workers``) while BLEU and CIDEr-D run here; the numbers do not
    depend on it."""
    chosen = check_metric_names(metrics)
    _check(hypotheses, references)
    if "meteor" in chosen and not java_available():
        raise UsageError("METEOR needs Java: install a JRE so that `java` is on the PATH, or leave meteor out")
    want_rouge = "rouge_l" in chosen
    processes = (default_workers(len(hypotheses)) if workers is None else workers) if want_rouge else 0

    def vectorised() -> tuple[list[MetricValues], tuple[tuple[int, ...], ...]]:
        found: list[MetricValues] = []
        stats: tuple[tuple[int, ...], ...] = ()
        if any(m in chosen for m in (*BLEU_KEYS, "cider_d")):
            table, joins = _joined(hypotheses, references)
            if any(m in chosen for m in BLEU_KEYS):
                values, bleu_stats = _bleu(table, joins)
                found.append(values)
                stats = tuple(tuple(row) for row in bleu_stats.rows())
            if "cider_d" in chosen:
                found.append(_cider(table, joins))
        return found, stats

    if want_rouge:
        (parts, stats), rouge = call_with_background(hypotheses, references, processes, vectorised)
        parts.append(_rouge_values(rouge))
    else:
        parts, stats = vectorised()
    if "meteor" in chosen:
        parts.append(meteor(hypotheses, references))
    corpus: dict[str, float] = {}
    per_image: dict[str, tuple[float, ...]] = {}
    for part in parts:
        corpus.update(part.corpus)
        per_image.update(part.per_image)
    return MetricValues({k: corpus[k] for k in chosen}, {k: per_image[k] for k in chosen}, stats)
