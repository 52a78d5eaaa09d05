"""Frozen records passed between the runner, task types and the results writer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """How one evaluation run is done; everything here is recorded in the results."""

    split: str
    batch_size: int = 64
    seed: int = 1234
    limit: int | None = None
    data_dir: Path | None = None
    cache_dir: Path | None = None
    log_samples: bool = False
    # Decoding worker processes (None: one per core but one, at most 16).
    num_workers: int | None = None
    # Go on without images that cannot be decoded (they are named in the results).
    skip_bad_images: bool = False
    # Embedding cache directory (None: the default location); off with use_embedding_cache.
    embedding_cache: Path | None = None
    use_embedding_cache: bool = True
    # Rows per cache chunk (rounded up to whole batches): the unit of resuming and sharding.
    chunk_size: int = 2048

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
class MetricInfo:
    higher_is_better: bool = True
    unit: str = "percent"
    description: str = ""


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
    metric_info: Mapping[str, MetricInfo]
    main_metric: str
    protocol: Mapping[str, Any]
    samples: tuple[Mapping[str, Any], ...] = ()
    predictions: tuple[PredictionFile, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
