"""Frozen records passed between the runner, task types and the results writer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muge_eval.metrics.spec import MetricSpec

# Generic run options that only some task types use, and how the user spells them.
RUN_FEATURES = {
    "decode_workers": "--num-workers",
    "skip_bad_images": "--skip-bad-images",
    "embedding_cache": "--no-embedding-cache / --chunk-size",
}
DEFAULT_CHUNK_SIZE = 2048


@dataclass(frozen=True)
class RunConfig:
    """How one evaluation run is done; everything here that changes numbers is recorded."""

    split: str
    # None: let the adapter choose (``--batch-size auto``).
    batch_size: int | None = 64
    seed: int = 1234
    limit: int | None = None
    data_dir: Path | None = None
    # The cache root (see muge_eval.cache); None: $MUGE_EVAL_CACHE or the XDG cache folder.
    cache_dir: Path | None = None
    log_samples: bool = False
    # Passed to adapters that take a ``device`` argument (``--device``).
    device: str | None = None
    # Decoding worker processes (None: one per core but one, at most 16).
    num_workers: int | None = None
    # Go on without images that cannot be decoded (they are named in the results).
    skip_bad_images: bool = False
    use_embedding_cache: bool = True
    # Rows per embedding-cache chunk (None: DEFAULT_CHUNK_SIZE), rounded up to whole
    # batches: the unit of resuming and sharding.
    chunk_size: int | None = None

    @property
    def chunk_rows(self) -> int:
        return self.chunk_size or DEFAULT_CHUNK_SIZE

    def features_used(self) -> dict[str, bool]:
        """Which type-specific run options the user set (see RUN_FEATURES)."""
        return {
            "decode_workers": self.num_workers is not None,
            "skip_bad_images": self.skip_bad_images,
            "embedding_cache": not self.use_embedding_cache or self.chunk_size is not None,
        }

    def recorded(self) -> dict[str, Any]:
        recorded: dict[str, Any] = {
            "split": self.split,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "limit": self.limit,
        }
        if self.skip_bad_images:  # it changes the pool
            recorded["skip_bad_images"] = True
        return recorded


@dataclass(frozen=True)
class DatasetInfo:
    """What was evaluated: the source, the split, and a fingerprint of the bytes read."""

    source: str
    format: str
    split: str
    fingerprint: str
    num_items: Mapping[str, int]
    files: tuple[str, ...] = ()

    def recorded(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "split": self.split,
            "fingerprint": self.fingerprint,
            "num_items": dict(self.num_items),
            "files": list(self.files),
        }


@dataclass(frozen=True)
class PredictionFile:
    """A file of predictions in the official submission format and how to write it."""

    name: str
    direction: str
    write: Callable[[Path], None]


@dataclass(frozen=True)
class TaskOutcome:
    """Everything a task type hands back from scoring or evaluating."""

    dataset: DatasetInfo
    metrics: Mapping[str, float]
    protocol: Mapping[str, Any]
    # The spec of each reported metric and the main metric (set by TaskType.finish).
    metric_info: Mapping[str, MetricSpec] = field(default_factory=dict)
    main_metric: str = ""
    samples: tuple[Mapping[str, Any], ...] = ()
    predictions: tuple[PredictionFile, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Descriptive numbers that are not metrics (a caption set's lengths and vocabulary):
    # recorded under the results' ``diagnostics``, never ranked or compared.
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
