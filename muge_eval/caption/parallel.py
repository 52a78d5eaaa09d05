"""Per-image work spread over processes while the vectorised metrics run in this one.

ROUGE-L is a Python loop over images (a bit-parallel LCS per reference); on a large corpus
it runs in worker processes, in chunks, at the same time as BLEU and CIDEr-D's numpy work
in the calling process. The values do not depend on the number of processes: each image's
score is computed by the same function, and the chunks come back in order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from muge_eval.caption import scorers

# Below this many images, starting processes costs more than it saves.
PARALLEL_MIN_IMAGES = 4000
MAX_WORKERS = 8


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(images: int) -> int:
    """Worker processes for a corpus of ``images``: none for a small one or where processes
    cannot be forked, else one per core but the one this process keeps (at most
    MAX_WORKERS)."""
    if images < PARALLEL_MIN_IMAGES or not fork_available():
        return 0
    return max(0, min(MAX_WORKERS, available_cores() - 1))


def rouge_l_chunk(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    return [scorers.rouge_l_sentence(h, refs) for h, refs in zip(hypotheses, references, strict=True)]


class Background:
    """ROUGE-L of every image, computed in worker processes (or here when ``workers`` is 0)."""

    def __init__(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]], workers: int):
        self._hypotheses = hypotheses
        self._references = references
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[list[float]]] = []
        if workers <= 0 or not fork_available():
            return
        # fork: the workers run one pure-Python function on the data they are sent, and,
        # unlike spawn or forkserver, fork does not re-import the caller's main module (a
        # script calling muge_eval.score without a __main__ guard would start again).
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        size = -(-len(hypotheses) // (workers * 4))
        for start in range(0, len(hypotheses), size):
            stop = start + size
            self._futures.append(
                self._pool.submit(
                    rouge_l_chunk, list(hypotheses[start:stop]), [list(r) for r in references[start:stop]]
                )
            )

    def rouge_l(self) -> list[float]:
        if self._pool is None:
            return rouge_l_chunk(self._hypotheses, self._references)
        try:
            return [score for future in self._futures for score in future.result()]
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def call_with_background(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    workers: int,
    foreground: Callable[[], Any],
) -> tuple[Any, list[float]]:
    """``foreground()`` here while ROUGE-L runs in the workers; both results."""
    with Background(hypotheses, references, workers) as background:
        result = foreground()
        return result, background.rouge_l()
