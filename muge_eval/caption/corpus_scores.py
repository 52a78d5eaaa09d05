"""BLEU's sufficient statistics and CIDEr-D for a whole corpus at once, vectorised.

The arithmetic is pycocoevalcap 1.2's, operation for operation, so the values are
bit-identical to its ``Bleu(4)`` and ``Cider()`` (the tests and the benchmark check it):

- BLEU: per image, the hypothesis length, the closest reference length (ties to the
  shorter), the guesses ``max(0, len - n + 1)`` and the clipped matches per order. These
  integers are BLEU's sufficient statistics; the float part (``scorers.bleu_from_comps``)
  stays pycocoevalcap's Python loop.
- CIDEr-D: document frequencies over the images' references, idf computed once per
  distinct document frequency with numpy's scalar log, each squared tf-idf value with
  libm ``pow`` (as pycocoevalcap squares them), and every sum taken in pycocoevalcap's
  order: norms in each sentence's n-gram insertion order, dot products in the
  hypothesis' insertion order, references in their order, orders 1..4 left to right.

Inputs: hypotheses (one space-joined sentence per image) and references (a non-empty list
per image).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from muge_eval.caption.ngram_table import MAX_N, FloatArray, IntArray, NgramTable, build_table, sequential_sums

CIDER_SIGMA = 6.0


@dataclass(frozen=True)
class Corpus:
    """Hypotheses and references as one n-gram table: sentences 0..N-1 are the
    hypotheses, then every image's references in order."""

    table: NgramTable
    num_images: int
    # The image of each reference sentence (non-decreasing), and where each image's
    # references start among them.
    ref_image: IntArray
    ref_start: IntArray


@dataclass(frozen=True)
class OrderJoin:
    """One order's entries split into hypothesis and reference entries, and for each
    reference entry the hypothesis entry of the same image and n-gram (-1: none)."""

    hyp: slice
    ref: slice
    match: IntArray


def build_corpus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> Corpus:
    counts = np.fromiter(map(len, references), dtype=np.int64, count=len(references))
    sentences = [*hypotheses, *(r for refs in references for r in refs)]
    table = build_table(sentences)
    ref_image = np.repeat(np.arange(len(hypotheses), dtype=np.int64), counts)
    ref_start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return Corpus(table, len(hypotheses), ref_image, ref_start)


def join_order(corpus: Corpus, n: int) -> OrderJoin:
    import pandas as pd

    entries = corpus.table.orders[n - 1]
    split = int(np.searchsorted(entries.sentence, corpus.num_images))
    hyp, ref = slice(0, split), slice(split, len(entries.sentence))
    hyp_keys = entries.sentence[hyp] * entries.num_grams + entries.gram[hyp]
    ref_keys = corpus.ref_image[entries.sentence[ref] - corpus.num_images] * entries.num_grams + entries.gram[ref]
    match = pd.Index(hyp_keys).get_indexer(ref_keys).astype(np.int64)
    return OrderJoin(hyp, ref, match)


@dataclass(frozen=True)
class BleuStatistics:
    """Per image: hypothesis length, closest reference length, guesses and clipped
    matches for orders 1..4 (all integers)."""

    hyp_len: IntArray
    ref_len: IntArray
    guess: IntArray  # (images, 4)
    correct: IntArray  # (images, 4)

    def rows(self) -> list[list[int]]:
        """One list per image: [hyp_len, ref_len, guess 1..4, correct 1..4]."""
        matrix = np.column_stack([self.hyp_len, self.ref_len, self.guess, self.correct])
        return [[int(v) for v in row] for row in matrix.tolist()]


def bleu_statistics(corpus: Corpus, joins: Sequence[OrderJoin]) -> BleuStatistics:
    lengths = corpus.table.lengths
    images = corpus.num_images
    hyp_len = lengths[:images]
    ref_lens = lengths[images:]
    width = int(ref_lens.max(initial=0)) + 1
    # Closest reference length, the shorter on a tie: the least (|difference|, length).
    key = np.abs(ref_lens - hyp_len[corpus.ref_image]) * width + ref_lens
    ref_len = np.minimum.reduceat(key, corpus.ref_start) % width if images else np.zeros(0, dtype=np.int64)
    guess = np.column_stack([np.maximum(0, hyp_len - k) for k in range(MAX_N)]).reshape(images, MAX_N)
    correct = np.zeros((images, MAX_N), dtype=np.int64)
    for n, join in enumerate(joins, start=1):
        entries = corpus.table.orders[n - 1]
        hyp_count = entries.count[join.hyp]
        matched = join.match >= 0
        ref_max = np.zeros(len(hyp_count), dtype=np.int64)
        np.maximum.at(ref_max, join.match[matched], entries.count[join.ref][matched])
        clipped = np.minimum(hyp_count, ref_max)
        correct[:, n - 1] = np.bincount(entries.sentence[join.hyp], weights=clipped, minlength=images).astype(np.int64)
    return BleuStatistics(hyp_len.copy(), ref_len.astype(np.int64), guess.astype(np.int64), correct)


def _idf_by_gram(corpus: Corpus, n: int, join: OrderJoin) -> FloatArray:
    """idf of every n-gram id: log(images) - log(max(1, document frequency)), computed as
    pycocoevalcap does (numpy scalar logs), once per distinct document frequency."""
    import pandas as pd

    entries = corpus.table.orders[n - 1]
    ref_keys = corpus.ref_image[entries.sentence[join.ref] - corpus.num_images] * entries.num_grams
    ref_keys = ref_keys + entries.gram[join.ref]
    distinct = pd.unique(ref_keys)
    df = np.bincount(distinct % entries.num_grams, minlength=entries.num_grams)
    ref_len = np.log(float(corpus.num_images))
    values = np.unique(df)
    logs = np.array([float(ref_len - np.log(max(1.0, float(v)))) for v in values.tolist()], dtype=np.float64)
    return logs[np.searchsorted(values, df)]


def _squares(values: FloatArray) -> FloatArray:
    """``pow(v, 2)`` through libm for each value (x*x can differ in the last bit), once
    per distinct value."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    table = np.array([math.pow(v, 2) for v in np.asarray(uniques).tolist()], dtype=np.float64)
    return table[codes]


def _penalties(deltas: IntArray) -> FloatArray:
    """CIDEr-D's length penalty e^(-delta^2 / (2 sigma^2)), once per distinct delta."""
    two_sigma2 = 2 * CIDER_SIGMA**2
    values, codes = np.unique(deltas, return_inverse=True)
    table = np.array([np.e ** (-(float(d) ** 2) / two_sigma2) for d in values.tolist()], dtype=np.float64)
    return table[codes.reshape(-1)]


def cider_d_scores(corpus: Corpus, joins: Sequence[OrderJoin]) -> FloatArray:
    """CIDEr-D (x10) of every image; the corpus score is their ``np.mean``."""
    images = corpus.num_images
    table = corpus.table
    sentences = len(table.lengths)
    refs = sentences - images
    bigram_length = np.maximum(table.lengths - 1, 0)
    val = np.zeros((refs, MAX_N), dtype=np.float64)
    for n, join in enumerate(joins, start=1):
        entries = table.orders[n - 1]
        vec = entries.count.astype(np.float64) * _idf_by_gram(corpus, n, join)[entries.gram]
        norm = np.sqrt(sequential_sums(_squares(vec), entries.sentence, sentences))
        matched = np.flatnonzero(join.match >= 0)
        ref_entry = matched + join.ref.start
        hyp_entry = join.match[matched]
        ref_row = entries.sentence[ref_entry] - images
        # Dot products add the hypothesis' n-grams in its insertion order.
        order = np.lexsort((hyp_entry, ref_row))
        ref_entry, hyp_entry, ref_row = ref_entry[order], hyp_entry[order], ref_row[order]
        ref_value = vec[ref_entry]
        terms = np.minimum(vec[hyp_entry], ref_value) * ref_value
        dot = sequential_sums(terms, ref_row, refs)
        hyp_norm = norm[corpus.ref_image]
        ref_norm = norm[images:]
        both = (hyp_norm != 0) & (ref_norm != 0)
        dot[both] = dot[both] / (hyp_norm[both] * ref_norm[both])
        val[:, n - 1] = dot
    val *= _penalties(bigram_length[corpus.ref_image] - bigram_length[images:])[:, None]
    score = np.column_stack([sequential_sums(val[:, k], corpus.ref_image, images) for k in range(MAX_N)])
    average = (((score[:, 0] + score[:, 1]) + score[:, 2]) + score[:, 3]) / MAX_N  # np.mean of 4, exactly
    per_ref = np.diff(np.append(corpus.ref_start, refs))
    result: FloatArray = (average / per_ref) * 10.0
    return result
