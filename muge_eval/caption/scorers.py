"""BLEU-1..4, ROUGE-L and CIDEr-D with exactly the arithmetic of pycocoevalcap 1.2.

The scores are those of ``Bleu(4)``, ``Rouge()`` and ``Cider()`` called directly on
space-joined tokens (checked to 1e-12 by the tests, bit-for-bit by the benchmark), but
computed faster in one process: n-grams are counted once (as strings, whose hashes are
cached) and shared by BLEU and CIDEr, each reference's tf-idf vector is built once, idf
values are computed once per distinct document frequency, and the longest common
subsequence uses a bit-parallel algorithm. Floating-point operations happen in the same
order as in pycocoevalcap (squares with pow(), sums in n-gram insertion order), so the
results are identical, not just close.

Inputs are ``hypotheses[i]`` (one sentence) and ``references[i]`` (one or more
sentences) per image, each sentence a string of space-separated tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MAX_N = 4
CIDER_SIGMA = 6.0
ROUGE_BETA = 1.2
BLEU_SMALL = 1e-9
BLEU_TINY = 1e-15

# An n-gram is its words joined by one space: tokens come from str.split(), so they hold no
# space, the join is unambiguous and n-grams of different n never collide. Strings cache
# their hash, which tuples do not: every later lookup of the n-gram is cheap.
Gram = str
# n-gram counts of one sentence, one dict per n (1..4), each in order of first occurrence.
NgramCounts = tuple[dict[Gram, int], ...]


@dataclass(frozen=True)
class BleuResult:
    corpus: tuple[float, ...]  # BLEU-1..4 over the corpus
    per_image: tuple[tuple[float, ...], ...]  # per image, BLEU-1..4 of that sentence


def ngram_counts(sentence: str) -> NgramCounts:
    """1- to 4-gram counts of ``sentence.split()``, per n, in pycocoevalcap's insertion
    order (first occurrence), which fixes the order of its floating-point sums."""
    w = sentence.split()
    w1, w2 = w[1:], w[2:]
    join = " ".join
    counts: tuple[Counter[Gram], ...] = (
        Counter(w),
        Counter(map(join, zip(w, w1, strict=False))),
        Counter(map(join, zip(w, w1, w2, strict=False))),
        Counter(map(join, zip(w, w1, w2, w[3:], strict=False))),
    )
    return counts


BleuComps = tuple[int, int, list[int], list[int]]


def bleu_comps(hyp: NgramCounts, hyp_len: int, refs: Sequence[NgramCounts], ref_lens: Sequence[int]) -> BleuComps:
    """(test length, closest reference length, guesses per n, clipped matches per n)."""
    reflen = min((abs(length - hyp_len), length) for length in ref_lens)[1]
    guess = [max(0, hyp_len - k + 1) for k in range(1, MAX_N + 1)]
    correct = [0] * MAX_N
    for k in range(MAX_N):
        maxcounts: dict[Gram, int] = {}
        for counts in refs:
            for gram, count in counts[k].items():
                if count > maxcounts.get(gram, 0):
                    maxcounts[gram] = count
        total = 0
        for gram, count in hyp[k].items():
            ref_count = maxcounts.get(gram, 0)
            total += count if count < ref_count else ref_count
        correct[k] = total
    return hyp_len, reflen, guess, correct


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


def document_frequency(ref_counts: Sequence[Sequence[NgramCounts]]) -> Counter[Gram]:
    """Number of images whose references contain each n-gram."""
    df: Counter[Gram] = Counter()
    for refs in ref_counts:
        grams: set[Gram] = set()
        for counts in refs:
            for per_n in counts:
                grams.update(per_n)
        df.update(grams)
    return df


@dataclass(frozen=True)
class CiderIdf:
    """idf of every n-gram: log(number of images) - log(max(1, df)); unseen n-grams get
    ``ref_len`` (pycocoevalcap's log(max(1, 0)) = 0)."""

    ref_len: float
    idf: dict[Gram, float]


def cider_idf(df: Mapping[Gram, int], num_images: int) -> CiderIdf:
    """idf of every n-gram seen in the references, as pycocoevalcap computes it."""
    ref_len = np.log(float(num_images))
    # df values are small integers: one log per distinct value, the same float64 each time.
    logs = {value: float(ref_len - np.log(max(1.0, float(value)))) for value in set(df.values())}
    return CiderIdf(float(ref_len), {gram: logs[value] for gram, value in df.items()})


CiderVector = tuple[list[dict[Gram, float]], list[float], int]


def cider_vector(counts: NgramCounts, idf: CiderIdf) -> CiderVector:
    """tf-idf values per n, their norms per n, and the length (pycocoevalcap counts the
    bigrams as the length). Squares use pow(), as pycocoevalcap does: x*x can differ."""
    get = idf.idf.get
    ref_len = idf.ref_len
    square = pow
    vec: list[dict[Gram, float]] = []
    norm: list[float] = []
    for per_n in counts:
        values = [term_freq * get(gram, ref_len) for gram, term_freq in per_n.items()]
        vec.append(dict(zip(per_n, values, strict=True)))
        total = 0.0
        for value in values:
            total += square(value, 2)
        norm.append(math.sqrt(total))
    length = sum(counts[1].values()) if len(counts) > 1 else 0
    return vec, norm, length


def cider_d_image(hyp: NgramCounts, refs: Sequence[NgramCounts], idf: CiderIdf) -> float:
    """CIDEr-D of one image (sigma 6, clipped counts, length penalty, mean over n and
    references, x10)."""
    vec, norm, length = cider_vector(hyp, idf)
    score = [0.0] * MAX_N
    two_sigma2 = 2 * CIDER_SIGMA**2
    for ref in refs:
        vec_ref, norm_ref, length_ref = cider_vector(ref, idf)
        delta = float(length - length_ref)
        penalty = np.e ** (-(delta**2) / two_sigma2)
        for n in range(MAX_N):
            # Products are added in the hypothesis' n-gram order, as in pycocoevalcap;
            # n-grams missing from the reference add exactly 0 and are skipped.
            value = 0.0
            get = vec_ref[n].get
            for gram, hyp_value in vec[n].items():
                ref_value = get(gram)
                if ref_value:
                    value += (hyp_value if hyp_value < ref_value else ref_value) * ref_value
            if norm[n] != 0 and norm_ref[n] != 0:
                value /= norm[n] * norm_ref[n]
            score[n] += value * penalty
    average = np.mean(np.array(score))
    average /= len(refs)
    average *= 10.0
    return float(average)
