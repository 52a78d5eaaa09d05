"""The pool a run searches: the task's images, then any distractors (``--pool-extra``),
each encoded where its chunks were (one shard per rank), with undecodable images failed
on or left out.

Only the positions of undecodable images travel between ranks; the embeddings stay on
the rank that encoded them. Positions count every image, decodable or not: leaving
images out keeps the others' order, so ties still go to the earlier image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from muge_eval.distributed import DistContext, gather_arrays
from muge_eval.encoding.encoder import LocalEncoded, bad_image_problems
from muge_eval.encoding.images import ImageRows
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.retrieval.ranking import l2_normalize
from muge_eval.retrieval.schema import TOP_K
from muge_eval.retrieval.sharded import PoolShard


@dataclass(frozen=True)
class PoolPart:
    """One image set of the pool: its rows and this rank's encoded share of them."""

    rows: ImageRows
    ids: tuple[int, ...]
    local: LocalEncoded
    # Rewrites a problem about row r (a distractor directory names the image's file).
    locate: Callable[[Problem, int], Problem] | None = None


@dataclass(frozen=True)
class SearchPool:
    """Every pool position's image id, this rank's searchable shard, and what was left out."""

    ids: tuple[int, ...]
    shard: PoolShard
    # Ids of the images that could not be decoded (left out with --skip-bad-images).
    skipped: tuple[int, ...]
    problems: tuple[Problem, ...]

    @property
    def kept(self) -> frozenset[int]:
        return frozenset(self.ids) - frozenset(self.skipped)


def _bad_positions(ctx: DistContext, local: LocalEncoded) -> npt.NDArray[np.int64]:
    parts = gather_arrays(ctx, local.positions[~local.ok], everywhere=True)
    assert parts is not None
    return np.sort(np.concatenate(parts))


def _problems(part: PoolPart, bad: Sequence[int], transform: object) -> list[Problem]:
    problems = bad_image_problems(part.rows, bad, transform)
    if part.locate is None:
        return problems
    return [part.locate(p, row) for p, row in zip(problems, bad, strict=True)]


def assemble_pool(ctx: DistContext, parts: Sequence[PoolPart], transform: object, skip_bad: bool) -> SearchPool:
    """The searched pool over ``parts`` in order. Undecodable images are an error listing
    them all, or, with ``skip_bad``, left out; fewer than 10 decodable images is an error."""
    ids: list[int] = []
    embeddings: list[npt.NDArray[np.float32]] = []
    positions: list[npt.NDArray[np.int64]] = []
    problems: list[Problem] = []
    skipped: list[int] = []
    for part in parts:
        bad = [int(r) for r in _bad_positions(ctx, part.local)]
        if bad:
            problems.extend(_problems(part, bad, transform))
            skipped.extend(part.ids[r] for r in bad)
        keep = part.local.ok
        embeddings.append(l2_normalize(part.local.embeddings[keep]))
        positions.append(part.local.positions[keep] + len(ids))
        ids.extend(part.ids)
    if problems and not skip_bad:
        raise InputError(problems, f"{len(problems)} image(s) cannot be decoded (pass --skip-bad-images to go on)")
    if len(ids) - len(skipped) < TOP_K:
        raise InputError(problems, f"only {len(ids) - len(skipped)} images decode, fewer than {TOP_K}")
    if len({e.shape[1] for e in embeddings}) > 1:
        raise UsageError("the model embedded the task's images and the distractors in different dimensions")
    shard = PoolShard(np.ascontiguousarray(np.concatenate(embeddings), dtype=np.float32), np.concatenate(positions))
    return SearchPool(tuple(ids), shard, tuple(skipped), tuple(problems))
