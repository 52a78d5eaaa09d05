"""How to split the cores between decoding workers and the model, from measured costs.

Decoding JPEGs and running a model on the CPU compete for the same cores. A model whose
threads already use every core gains nothing from a decoding worker: the worker takes a
core from it, and OpenMP threads that share a core with the worker wait for each other.
Measured on 2 cores (a tiny Chinese-CLIP, decoding about a third of the work), one worker
next to a 2-thread model ran at 0.83x the speed of decoding in the main process, and at
0.78x with the model on 1 thread. With more cores, or a model on a GPU, workers win.

So the first batches are decoded and consumed in the main process, which measures both
costs; the plan that is predicted fastest for the remaining batches is then used:

- in the main process: ``decode + consume`` per batch;
- ``w`` workers: ``max(decode / w, consume')`` per batch after a start-up cost, where a
  model on the CPU is given the cores the workers leave (``consume' = consume * threads /
  (cores - w)``, linear scaling: pessimistic for the workers) and a model on a GPU keeps
  its speed.

A plan with workers must win by a margin, as the measurement of one batch is noisy.
"""

from __future__ import annotations

from dataclasses import dataclass

# Seconds for a pool of worker processes to start and hand over its first batch.
WORKER_START_S = 0.2
# Workers are chosen only if predicted at least this much faster than the main process.
MARGIN = 0.9


@dataclass(frozen=True)
class DecodePlan:
    """``workers`` decoding processes (0: the main process decodes); ``model_threads``:
    torch's intra-op threads while they run (None: leave them alone)."""

    workers: int
    model_threads: int | None
    predicted_s: float
    main_process_s: float


def plan_decoding(
    decode_s: float,
    consume_s: float,
    batches: int,
    max_workers: int,
    cores: int,
    threads: int,
    model_on_cpu: bool,
) -> DecodePlan:
    """The fastest predicted plan for ``batches`` more batches, from the seconds one batch
    took to decode (one core) and to consume (the model, with ``threads`` threads)."""
    main_s = batches * (decode_s + consume_s)
    best = DecodePlan(0, None, main_s, main_s)
    limit = min(max_workers, cores - 1) if model_on_cpu else max_workers
    for workers in range(1, max(0, limit) + 1):
        model_threads = max(1, min(threads, cores - workers)) if model_on_cpu else None
        consume = consume_s * threads / model_threads if model_threads else consume_s
        predicted = WORKER_START_S + batches * max(decode_s / workers, consume)
        if predicted < MARGIN * main_s and predicted < best.predicted_s:
            best = DecodePlan(workers, model_threads, predicted, main_s)
    return best
