"""KID, CMMD, precision/recall/density/coverage and the clean-fid resize against their
references: torch-fidelity's KID, the published CMMD formula (google-research cmmd) and
closed forms, the prdc package, clean-fid's own resize."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from PIL import Image

from muge_eval.t2i.cmmd import cmmd
from muge_eval.t2i.features import RealFeatureCache
from muge_eval.t2i.fid import save_stats
from muge_eval.t2i.inception import image_tensor
from muge_eval.t2i.kid import kid
from muge_eval.t2i.prdc import prdc


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_normal((n, d)) + shift)


# --- KID: torch-fidelity 0.4 ----------------------------------------------------------


def _torch_fidelity_kid(generated: np.ndarray, real: np.ndarray, subsets: int, size: int) -> dict[str, float]:
    import torch
    from torch_fidelity.metric_kid import kid_features_to_metric

    return kid_features_to_metric(
        torch.from_numpy(generated), torch.from_numpy(real), kid_subsets=subsets, kid_subset_size=size, verbose=False
    )


@pytest.mark.parametrize("precompute", [True, False])
def test_kid_equals_torch_fidelity(precompute: bool) -> None:
    generated, real = _features(260, 48, 0, 0.2), _features(300, 48, 1)
    ours = kid(generated, real, subsets=30, subset_size=120, precompute=precompute)
    reference = _torch_fidelity_kid(generated, real, 30, 120)
    assert ours.mean == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-9, abs=1e-15)
    assert ours.std == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-9)
    assert (ours.subsets, ours.subset_size) == (30, 120)


def test_kid_caps_the_subset_size_at_the_smaller_set() -> None:
    generated, real = _features(40, 16, 2, 0.5), _features(60, 16, 3)
    ours = kid(generated, real)  # defaults: 100 subsets of 1000, seed 2020
    assert ours.subset_size == 40
    reference = _torch_fidelity_kid(generated, real, 100, 40)
    assert ours.mean == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-9)
    assert ours.mean > 0
    with pytest.raises(ValueError, match="at least 2"):
        kid(generated[:1], real)


# --- CMMD: the published formula and closed forms ----------------------------------------


def _published_cmmd(x: np.ndarray, y: np.ndarray) -> float:
    """google-research cmmd/distance.py ``mmd`` transcribed to numpy (float64), on unit
    vectors as its CLIP embedder returns them."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    x_sq, y_sq = np.diag(x @ x.T), np.diag(y @ y.T)
    gamma = 1 / (2 * 10**2)
    k_xx = np.mean(np.exp(-gamma * (-2 * x @ x.T + x_sq[:, None] + x_sq[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * x @ y.T + x_sq[:, None] + y_sq[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * y @ y.T + y_sq[:, None] + y_sq[None, :])))
    return float(1000 * (k_xx + k_yy - 2 * k_xy))


def test_cmmd_equals_the_published_formula() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2100, 24))  # more rows than one kernel block
    y = rng.standard_normal((700, 24)) + 0.3
    assert cmmd(x, y) == pytest.approx(_published_cmmd(x, y), rel=1e-10)
    assert cmmd(x * 3.0, y) == pytest.approx(cmmd(x, y), rel=1e-12)  # embeddings are normalised


def test_cmmd_closed_forms() -> None:
    k = np.exp(-2 / 200)  # RBF value of two orthonormal vectors: |a - b|^2 = 2, sigma 10
    x = np.eye(3)[[0, 1]]
    y = np.eye(3)[[0, 2]]
    # Biased: (1 + k)/2 within each set, (1 + 3k)/4 across.
    assert cmmd(x, y) == pytest.approx(1000 * (1 - k) / 2, rel=1e-12)
    # Unbiased: k within (no diagonal), (1 + 3k)/4 across.
    assert cmmd(x, y, "unbiased") == pytest.approx(1000 * (k - 1) / 2, rel=1e-12)
    # One point against another at angle t: |a - b|^2 = 2 - 2 cos t.
    a, b = np.array([[1.0, 0.0]]), np.array([[np.cos(0.7), np.sin(0.7)]])
    assert cmmd(a, b) == pytest.approx(1000 * (2 - 2 * np.exp(-(2 - 2 * np.cos(0.7)) / 200)), rel=1e-12)
    same = np.random.default_rng(5).standard_normal((30, 8))
    assert cmmd(same, same) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="estimator"):
        cmmd(a, b, "other")


# --- precision, recall, density, coverage: the prdc package ---------------------------


def _reference_prdc(real: np.ndarray, generated: np.ndarray, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        return {key: float(value) for key, value in compute_prdc(real, generated, k).items()}


@pytest.mark.parametrize(("n_real", "n_generated", "shift"), [(1100, 900, 0.3), (40, 60, 1.5)])
def test_prdc_equals_the_prdc_package(n_real: int, n_generated: int, shift: float) -> None:
    rng = np.random.default_rng(n_real)
    real = rng.standard_normal((n_real, 16))
    generated = rng.standard_normal((n_generated, 16)) * 1.2 + shift
    ours = prdc(real, generated, 5)
    reference = _reference_prdc(real, generated, 5)
    assert (ours.precision, ours.recall, ours.density, ours.coverage) == (
        reference["precision"],
        reference["recall"],
        reference["density"],
        reference["coverage"],
    )
    assert ours.in_real.mean() == ours.precision and ours.real_balls.mean() / 5 == pytest.approx(ours.density)


def test_prdc_of_identical_sets_and_small_sets() -> None:
    points = np.random.default_rng(6).standard_normal((50, 4))
    same = prdc(points, points.copy(), 5)
    assert same.precision == 1.0 and same.recall == 1.0 and same.coverage == 1.0
    with pytest.raises(ValueError, match="more than 5"):
        prdc(points[:5], points, 5)


# --- clean-fid's resize ----------------------------------------------------------------


@pytest.mark.parametrize(("size", "mode"), [((256, 256), "RGB"), ((97, 143), "RGBA"), ((400, 300), "L")])
def test_clean_fid_resize_equals_clean_fid(size: tuple[int, int], mode: str) -> None:
    from cleanfid.resize import build_resizer

    rng = np.random.default_rng(size[0])
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(array[:, :, 0] if mode == "L" else array, mode)
    # clean-fid's pipeline: np.array(Image.open(path).convert("RGB")), its "clean" resizer.
    reference = build_resizer("clean")(np.array(image.convert("RGB")))
    ours = image_tensor(image, "clean-fid").numpy().transpose(1, 2, 0)
    assert ours.shape == (299, 299, 3) and reference.dtype == np.float32
    np.testing.assert_array_equal(ours, (reference / np.float32(255.0)).astype(np.float32))
    # Not the same numbers as the other two resizes.
    assert not np.allclose(ours, image_tensor(image, "pil-bicubic").numpy().transpose(1, 2, 0))


# --- real-feature cache ----------------------------------------------------------------


def test_an_old_statistics_file_still_serves_fid_but_not_kid(tmp_path) -> None:
    from muge_eval.t2i.features import FeatureNetwork
    from muge_eval.t2i.fid import feature_statistics

    network = FeatureNetwork("inception", lambda images: {}, ("sha", "pytorch-fid", "299"), {})
    cache = RealFeatureCache(tmp_path)
    path = cache.path("sha256:data", network)
    features = _features(20, 6, 7)
    save_stats(path, feature_statistics(features))  # what FID statistics files always held
    old = cache.load(path, need_features=False)
    assert old is not None and old.features is None and old.cached
    assert cache.load(path, need_features=True) is None
    fresh = cache.save(path, features)
    again = cache.load(path, need_features=True)
    assert again is not None and again.features is not None and not fresh.cached
    np.testing.assert_array_equal(again.features, features.astype(np.float32))
    np.testing.assert_array_equal(again.stats.sigma, fresh.stats.sigma)
    # A damaged file reads as absent: the features are extracted again.
    path.write_bytes(path.read_bytes()[:-200])
    assert cache.load(path, need_features=True) is None
