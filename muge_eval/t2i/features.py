"""Image features of the feature networks (FID Inception, DINOv2), one decoding pass for
all of them, and the cache of real-image features.

Real-image features are cached as npz (no pickle) per dataset fingerprint, network
weights (sha256), preprocessing and resolution, so a second generator on the same split
reads no real image. A file holds the features (float32, as the network wrote them) and
their float64 mean and covariance; an Inception file written by an older version holds
only the statistics, which still serve FID (KID and precision/recall need the features,
so those runs extract them again and rewrite the file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import InputError, Problem
from muge_eval.fingerprint import text_fingerprint
from muge_eval.io.atomic import atomic_open
from muge_eval.progress import Progress
from muge_eval.t2i.fid import GaussianStats, feature_statistics, load_stats

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FeatureNetwork:
    """One feature network: ``run`` maps a batch of images to named arrays (``features``,
    and ``logits`` for Inception); ``cache_parts`` name its weights and preprocessing."""

    kind: str
    run: Callable[[list[Image.Image]], Mapping[str, Array]]
    cache_parts: tuple[str, ...]
    protocol: Mapping[str, Any]


@dataclass(frozen=True)
class RealFeatures:
    stats: GaussianStats
    # None when the cache file holds statistics only (an older FID statistics file).
    features: Array | None
    cached: bool


def batches(images: Iterable[Image.Image], size: int) -> Iterator[list[Image.Image]]:
    batch: list[Image.Image] = []
    for image in images:
        batch.append(image)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def extract(
    images: Iterable[Image.Image],
    networks: Sequence[FeatureNetwork],
    batch_size: int,
    progress: Progress,
    description: str,
    total: int | None = None,
) -> dict[str, dict[str, Array]]:
    """Every network's arrays for ``images``, decoding each image once:
    ``{kind: {"features": (n, d), ...}}``."""
    parts: dict[str, dict[str, list[Array]]] = {n.kind: {} for n in networks}
    steps = None if total is None else -(-total // batch_size)
    for batch in progress.iterate(batches(images, batch_size), steps, description, "batch"):
        for network in networks:
            for name, array in network.run(batch).items():
                parts[network.kind].setdefault(name, []).append(np.asarray(array, dtype=np.float64))
    return {kind: {name: np.concatenate(arrays) for name, arrays in named.items()} for kind, named in parts.items()}


@dataclass(frozen=True)
class RealFeatureCache:
    """The npz files of real-image features, in one folder."""

    directory: Path

    def path(self, dataset_fingerprint: str, network: FeatureNetwork) -> Path:
        key = text_fingerprint(dataset_fingerprint, *network.cache_parts)
        return self.directory / f"{key.split(':')[1][:32]}.npz"

    def load(self, path: Path, need_features: bool) -> RealFeatures | None:
        """The stored statistics (and features when ``need_features``); None when the file
        is absent, damaged or lacks what is needed -- the features are then extracted again."""
        from muge_eval.io.npz import read_npz_arrays

        stats = load_stats(path)
        if stats is None:
            return None
        if not need_features:
            return RealFeatures(stats, None, True)
        data = read_npz_arrays(path, ("features",))
        if data is None:
            return None
        features = data["features"]
        if features.dtype.kind != "f" or features.shape != (stats.count, len(stats.mu)):
            return None
        return RealFeatures(stats, np.asarray(features, np.float64), True)

    def save(self, path: Path, features: Array) -> RealFeatures:
        """Store float32 features (what the networks compute) and their statistics; the
        numbers of this run are those a later run reads back."""
        stored = features.astype(np.float32)
        features = stored.astype(np.float64)
        stats = feature_statistics(features)
        with atomic_open(path, "wb", encoding=None) as handle:
            np.savez(
                handle,
                features=stored,
                mu=stats.mu,
                sigma=stats.sigma,
                count=np.asarray(stats.count, dtype=np.int64),
            )
        return RealFeatures(stats, features, False)


def real_features(
    dataset_fingerprint: str,
    images: Callable[[], Iterable[Image.Image]],
    wanted: Mapping[str, bool],
    networks: Sequence[FeatureNetwork],
    cache: RealFeatureCache,
    batch_size: int,
    progress: Progress,
    source: str,
) -> dict[str, RealFeatures]:
    """Real-image features of the networks in ``wanted`` (kind -> whether the feature
    matrix itself is needed, not only its statistics): from the cache where present,
    else extracted in one pass over the real images and stored."""
    out: dict[str, RealFeatures] = {}
    missing = []
    for network in networks:
        if network.kind not in wanted:
            continue
        stored = cache.load(cache.path(dataset_fingerprint, network), wanted[network.kind])
        if stored is None:
            missing.append(network)
        else:
            out[network.kind] = stored
    if missing:
        names = ", ".join(n.kind for n in missing)
        extracted = extract(images(), missing, batch_size, progress, f"{names}: real images")
        for network in missing:
            features = extracted[network.kind].get("features")
            if features is None or len(features) < 2:
                raise InputError([Problem(source, "needs at least 2 real images")], "too few real images")
            out[network.kind] = cache.save(cache.path(dataset_fingerprint, network), features)
    return out
