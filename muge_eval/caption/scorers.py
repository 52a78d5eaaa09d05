"""The per-image parts of pycocoevalcap 1.2's BLEU and ROUGE-L, with its exact arithmetic.

``bleu_from_comps`` is ``BleuScorer.compute_score(option='closest')`` on the per-image
statistics (``corpus_scores.bleu_statistics`` counts them); ``rouge_l_sentence`` is
``Rouge.calc_score`` with a bit-parallel longest common subsequence. CIDEr-D and the
n-gram counting are vectorised over the whole corpus in ``corpus_scores``. Floating-point
operations happen in pycocoevalcap's order, so the results are identical, not just close.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_N = 4
ROUGE_BETA = 1.2
BLEU_SMALL = 1e-9
BLEU_TINY = 1e-15


@dataclass(frozen=True)
class BleuResult:
    corpus: tuple[float, ...]  # BLEU-1..4 over the corpus
    per_image: tuple[tuple[float, ...], ...]  # per image, BLEU-1..4 of that sentence


BleuComps = tuple[int, int, Sequence[int], Sequence[int]]


def bleu_from_comps(comps: Sequence[BleuComps]) -> BleuResult:
    """pycocoevalcap BleuScorer.compute_score(option='closest') on cooked sentences."""
    total_test = total_ref = 0
    total_guess = [0] * MAX_N
    total_correct = [0] * MAX_N
    per_image: list[tuple[float, ...]] = []
    for testlen, reflen, guess, correct in comps:
        total_test += testlen
        total_ref += reflen
        for k in range(MAX_N):
            total_guess[k] += guess[k]
            total_correct[k] += correct[k]
        bleu = 1.0
        values = []
        for k in range(MAX_N):
            bleu *= (float(correct[k]) + BLEU_TINY) / (float(guess[k]) + BLEU_SMALL)
            values.append(bleu ** (1.0 / (k + 1)))
        ratio = (testlen + BLEU_TINY) / (reflen + BLEU_SMALL)
        if ratio < 1:
            values = [v * math.exp(1 - 1 / ratio) for v in values]
        per_image.append(tuple(values))
    corpus = []
    bleu = 1.0
    for k in range(MAX_N):
        bleu *= float(total_correct[k] + BLEU_TINY) / (total_guess[k] + BLEU_SMALL)
        corpus.append(bleu ** (1.0 / (k + 1)))
    ratio = (total_test + BLEU_TINY) / (total_ref + BLEU_SMALL)
    if ratio < 1:
        corpus = [v * math.exp(1 - 1 / ratio) for v in corpus]
    return BleuResult(tuple(corpus), tuple(per_image))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (Allison-Dix bit-parallel algorithm)."""
    masks: dict[str, int] = {}
    for position, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << position)
    row = 0
    for token in b:
        matches = masks.get(token, 0)
        if not matches:
            continue
        x = matches | row
        row = x & ((x - ((row << 1) | 1)) ^ x)
    return row.bit_count()


def rouge_l_sentence(hypothesis: str, references: Sequence[str]) -> float:
    """pycocoevalcap Rouge.calc_score: LCS F-measure (beta 1.2) against the best reference."""
    hyp_tokens = hypothesis.split(" ")
    masks: dict[str, int] = {}
    for position, token in enumerate(hyp_tokens):
        masks[token] = masks.get(token, 0) | (1 << position)
    prec_max = rec_max = 0.0
    first = True
    for reference in references:
        ref_tokens = reference.split(" ")
        row = 0
        for token in ref_tokens:
            matches = masks.get(token, 0)
            if matches:
                x = matches | row
                row = x & ((x - ((row << 1) | 1)) ^ x)
        lcs = row.bit_count()
        prec = lcs / float(len(hyp_tokens))
        rec = lcs / float(len(ref_tokens))
        if first or prec > prec_max:
            prec_max = prec
        if first or rec > rec_max:
            rec_max = rec
        first = False
    if prec_max != 0 and rec_max != 0:
        beta2 = ROUGE_BETA**2
        return ((1 + beta2) * prec_max * rec_max) / float(rec_max + beta2 * prec_max)
    return 0.0
