"""Every sentence's n-grams as integer arrays, for the vectorised BLEU and CIDEr-D.

Tokens (``str.split()`` of the space-joined tokens) become integer ids, n-grams of order
n become compact integer ids (an (n-1)-gram id and the next token, hashed by pandas'
factorize), and each sentence's distinct n-grams are listed in the order of their first
occurrence, with their counts: exactly the insertion order of pycocoevalcap's ``precook``
counters, which fixes the order of its floating-point sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
MAX_N = 4


@dataclass(frozen=True)
class OrderEntries:
    """The distinct n-grams of one order n of every sentence: entry e is n-gram ``gram[e]``
    of sentence ``sentence[e]``, occurring ``count[e]`` times. Entries are grouped by
    sentence (in sentence order) and, within one, in order of first occurrence."""

    sentence: IntArray
    gram: IntArray
    count: IntArray
    num_grams: int


@dataclass(frozen=True)
class NgramTable:
    """The token counts and the n-gram entries of orders 1..4 of a list of sentences."""

    lengths: IntArray
    orders: tuple[OrderEntries, ...]


def _factorize(values: IntArray) -> tuple[IntArray, int]:
    """Codes 0..k-1 in order of first appearance (a hash table, no sort), and k."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False), len(uniques)


def token_ids(sentences: Sequence[str]) -> tuple[IntArray, IntArray]:
    """(lengths of ``s.split()``, every token's id), ids in order of first appearance."""
    split = [s.split() for s in sentences]
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    flat = list(chain.from_iterable(split))
    index = {token: number for number, token in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    return lengths, ids


def _entries(sentence_of: IntArray, grams: IntArray, num_grams: int) -> OrderEntries:
    """Distinct (sentence, gram) pairs in order of first appearance, with their counts."""
    if not len(grams):
        empty = np.zeros(0, dtype=np.int64)
        return OrderEntries(empty, empty, empty, num_grams)
    codes, count = _factorize(sentence_of * num_grams + grams)
    # Codes appear first in increasing order: a first occurrence raises the running maximum.
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    counts = np.bincount(codes, minlength=count).astype(np.int64)
    return OrderEntries(sentence_of[first], grams[first], counts, num_grams)


def build_table(sentences: Sequence[str], max_n: int = MAX_N) -> NgramTable:
    """The n-gram entries of orders 1..``max_n`` of ``sentences`` (space-joined tokens)."""
    lengths, tokens = token_ids(sentences)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, dtype=np.int64)
    sentence_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    position = np.arange(len(tokens), dtype=np.int64) - np.repeat(starts, lengths)
    remaining = np.repeat(lengths, lengths) - position  # tokens from here to the sentence's end
    vocabulary = int(tokens.max()) + 1 if len(tokens) else 1
    orders: list[OrderEntries] = []
    previous = tokens  # the id of the (n-1)-gram starting at each position (-1: none)
    for n in range(1, max_n + 1):
        valid = np.flatnonzero(remaining >= n)
        if n == 1:
            grams, num_grams = tokens, vocabulary
        else:
            grams, num_grams = _factorize(previous[valid] * vocabulary + tokens[valid + n - 1])
        orders.append(_entries(sentence_of[valid], grams, num_grams))
        following = np.full(len(tokens), -1, dtype=np.int64)
        following[valid] = grams
        previous = following
    return NgramTable(lengths, tuple(orders))


def sequential_sums(values: FloatArray, row_of: IntArray, rows: int) -> FloatArray:
    """Per row, ``((0.0 + v0) + v1) + ...`` in the order the values are given (as a
    Python loop adds them), for values grouped by row (``row_of`` non-decreasing).

    Vectorised across rows: the j-th values of all rows longer than j are added in one
    step, so the order of the additions within a row is kept exactly.
    """
    totals = np.zeros(rows, dtype=np.float64)
    if not len(values):
        return totals
    counts = np.bincount(row_of, minlength=rows)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    by_length = np.argsort(-counts, kind="stable")
    sorted_counts = counts[by_length]
    sorted_starts = starts[by_length]
    for j in range(int(sorted_counts[0]) if len(sorted_counts) else 0):
        active = int(np.searchsorted(-sorted_counts, -j, side="left"))  # rows with count > j
        if active == 0:
            break
        rows_now = by_length[:active]
        totals[rows_now] = totals[rows_now] + values[sorted_starts[:active] + j]
    return totals
