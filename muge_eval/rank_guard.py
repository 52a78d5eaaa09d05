"""Fail-fast multi-process runs: when one rank fails, every rank stops, soon, and the
failure is printed once.

Without this, a rank that raises under ``torchrun`` leaves the others waiting at their
next collective until the timeout, and an error every rank hits is printed once per rank.
Inside ``fail_fast()``:

- an exception on any rank is reported for the whole job by the first rank to fail (it
  claims the report in the process group's key-value store), which then exits at once
  with the error's exit code (1 invalid input, 2 usage; a bug's traceback, 1);
- a thread on every rank watches the store and ends its process when another rank has
  failed, whatever the main thread is doing (encoding, decoding, waiting at a collective);
- a rank killed outright (SIGKILL, the out-of-memory killer) breaks the collectives of the
  others, which report the lost rank and stop (``torchrun`` also ends the job when it sees
  the killed process); a rank that hangs is found by the collective timeout
  (``MUGE_EVAL_DIST_TIMEOUT`` seconds), after which the ranks waiting for it report and
  stop, and its own watcher ends it.

Work finished before the failure stays: embedding-cache chunks are written as each one
completes, so a rerun resumes from them. In a single process ``fail_fast()`` does nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

from muge_eval.distributed import TIMEOUT_ENV, DistContext, collective_timeout, context, ensure_group
from muge_eval.errors import MugeEvalError
from muge_eval.io.atomic import describe_os_error

# How often each rank looks for another rank's failure (seconds).
WATCH_INTERVAL_S = 0.2
# A store call that takes longer means the store is gone (seconds).
STORE_TIMEOUT_S = 5.0
# The exit code of a rank stopped because another failed.
STOPPED_EXIT = 1
# What gloo says when a peer process is gone.
LOST_RANK_WORDS = ("connection closed", "connection reset", "broken pipe", "connection refused")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()


def describe_failure(exc: BaseException, ctx: DistContext) -> tuple[str, int]:
    """(message, exit code) of a rank's failure, naming the rank."""
    who = f"rank {ctx.rank} of {ctx.world_size}"
    text = str(exc)
    if isinstance(exc, MugeEvalError):
        return f"error: {who}: {text}", exc.exit_code
    if isinstance(exc, OSError):
        return f"error: {who}: {describe_os_error(exc)}", 1
    lowered = text.lower()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    if _is_collective_error(exc) and "timed out" in lowered:
        return (
            f"error: {who}: waited {collective_timeout():g} s for the other ranks at a collective; a rank "
            f"hung or is far behind ({TIMEOUT_ENV} sets the limit)\n  {first_line}",
            1,
        )
    if _is_collective_error(exc) and any(word in lowered for word in LOST_RANK_WORDS):
        return f"error: {who}: lost contact with another rank (killed, crashed or out of memory)\n  {first_line}", 1
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"error: {who}: unexpected failure\n{trace}", 1


def _is_collective_error(exc: BaseException) -> bool:
    """torch.distributed's own errors, and gloo's (plain RuntimeErrors)."""
    return type(exc).__name__.startswith("Dist") or type(exc) is RuntimeError


def _own_store(dist: Any) -> Any:
    """A connection of the guard's own to the job's key-value store (torchrun's, at
    ``MASTER_ADDR:MASTER_PORT``), so that the watcher never shares the process group's
    connection (which ``destroy_process_group`` tears down) and its calls time out quickly;
    the process group's store when there is no such address."""
    from datetime import timedelta

    host, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if host and port:
        with suppress(Exception):
            return dist.TCPStore(
                host, int(port), is_master=False, timeout=timedelta(seconds=STORE_TIMEOUT_S), wait_for_workers=False
            )
    return dist.distributed_c10d._get_default_store()


class RankGuard:
    """One guarded section of one rank: the store keys it shares with the other ranks, and
    the thread that watches them."""

    def __init__(self, ctx: DistContext, store: Any, prefix: str):
        self.ctx = ctx
        self.store = store
        self.claim_key = f"{prefix}/claims"
        self.failed_key = f"{prefix}/failed"
        self._stop = threading.Event()
        # Held by whoever ends this process: the failing main thread or the watcher.
        self._ending = threading.Lock()
        # One connection, used by the watcher and by fail() in turn.
        self._store_lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="muge-eval-rank-guard", daemon=True)

    @classmethod
    def start(cls, ctx: DistContext) -> RankGuard:
        dist = ensure_group(ctx)
        store = _own_store(dist)
        # Keys are per launch, restart and guarded section (every rank opens the same
        # sections in the same order, so their counts agree).
        launch = f"{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
        section = store.add(f"muge_eval/guard/{launch}/sections/{ctx.rank}", 1)
        guard = cls(ctx, store, f"muge_eval/guard/{launch}/{section}")
        guard._thread.start()
        return guard

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            try:
                with self._store_lock:
                    failed = self.store.check([self.failed_key])
            except Exception:  # the store is gone: the launcher is ending the job; it ends us too
                return
            if failed and self._ending.acquire(blocking=False):
                _flush()
                os._exit(STOPPED_EXIT)

    def stop(self) -> None:
        self._stop.set()
        # Joined, not left running: a daemon thread inside a store call when the interpreter
        # exits aborts the process (C++ frames cannot be unwound by pthread_exit).
        self._thread.join(timeout=2 * STORE_TIMEOUT_S)

    def fail(self, exc: BaseException) -> NoReturn:
        """Report ``exc`` unless another rank already reported its failure, tell the other
        ranks, and exit."""
        self._ending.acquire()
        message, code = describe_failure(exc, self.ctx)
        try:
            with self._store_lock:
                first = int(self.store.add(self.claim_key, 1)) == 1
        except Exception:  # no store: better reported twice than never
            first = True
        if first:
            _flush()
            sys.stderr.write(message.rstrip("\n") + "\n")
        with suppress(Exception), self._store_lock:
            self.store.set(self.failed_key, str(self.ctx.rank))
        _flush()
        os._exit(code)


@contextmanager
def fail_fast(ctx: DistContext | None = None) -> Iterator[None]:
    """A section of a multi-process run in which any rank's failure ends every rank."""
    ctx = ctx or context()
    if not ctx.active:
        yield
        return
    guard = RankGuard.start(ctx)
    try:
        yield
    except Exception as exc:
        guard.fail(exc)
    finally:
        guard.stop()
