"""The FID Inception path with a random-weight state dict of the right shapes: loading
from a local file (no download), FID against pytorch-fid 0.3.0 and KID against
torch-fidelity on its features, weight checks, the real-feature cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from t2i_helpers import png, random_inception_state, save_random_weights, write_dataset, write_submission

from muge_eval.cards import load_card
from muge_eval.errors import InputError
from muge_eval.plugins import build_registries
from muge_eval.t2i.fid import GaussianStats, fid_from_features, load_stats
from muge_eval.t2i.inception import InceptionExtractor, load_fid_inception
from muge_eval.t2i.weights import WEIGHTS_FILE, check_weights, find_weights
from muge_eval.tasktypes.loading import load_task

TORCH_THREADS = 2
# scipy sqrtm at d = 2048 takes 15-20 s; the eigenvalue form is checked against it in
# test_t2i_metrics.py and benchmarks/t2i_metrics.py, so here it is off by default.


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(TORCH_THREADS)
    return save_random_weights(tmp_path_factory.mktemp("w") / "random_inception.pth")


@pytest.fixture(autouse=True)
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to fetch weights from the internet fails the test."""
    import pytorch_fid.inception as pfi

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to download weights")

    monkeypatch.setattr(pfi, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


def _pytorch_fid_activations(
    directories: list[Path], weights: Path, monkeypatch: pytest.MonkeyPatch
) -> list[np.ndarray]:
    """pytorch-fid 0.3.0's own feature extraction (its InceptionV3, its loader)."""
    import pytorch_fid.inception as pfi
    from pytorch_fid.fid_score import get_activations

    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: torch.load(weights, weights_only=True))
    model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    out = []
    for directory in directories:
        files = sorted(directory.glob("*.png"))
        out.append(np.asarray(get_activations(files, model, len(files), 2048, "cpu", num_workers=0)))
    return out


def test_fid_matches_pytorch_fid_and_real_stats_are_cached(
    tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    ids = write_dataset(data, 4)
    submission = write_submission(tmp_path / "sub.tsv", ids)
    options = {
        "inception_weights": str(weights),
        "allow_nonstandard_weights": "true",
        "stats_dir": str(tmp_path / "stats"),
        "device": "cpu",
        "image_size": "any",
        "metrics": "fid,is_mean,is_std,kid,kid_std",
    }
    task = load_task(build_registries(), "muge-t2i", options)
    gold = task.load_gold("valid", data, None, None)
    assert gold.real_images == data / "T2I_valid.img.tsv"
    sub = task.read_submission(gold, submission, None)
    outcome = task.score(gold, sub)
    # The reference: pytorch-fid 0.3.0's feature extraction on the same PNGs and state dict,
    # then its statistics (np.mean, np.cov) and the distance.
    real_dir, fake_dir = tmp_path / "real", tmp_path / "fake"
    real_dir.mkdir(), fake_dir.mkdir()
    for n, image_id in enumerate(ids):
        (fake_dir / f"{image_id}.png").write_bytes(sub.raw_bytes(image_id))
        (real_dir / f"{image_id}.png").write_bytes(png((20 * n % 255, 100, 200), 32, n))
    real_act, fake_act = _pytorch_fid_activations([real_dir, fake_dir], weights, monkeypatch)
    cached = load_stats(next((tmp_path / "stats").glob("*.npz")))
    assert cached is not None
    np.testing.assert_allclose(cached.mu, np.mean(real_act, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cached.sigma, np.cov(real_act, rowvar=False), rtol=1e-4, atol=1e-6)
    # Our distance on pytorch-fid's features (the distance itself is pinned against scipy's
    # sqrtm and pytorch-fid's calculate_frechet_distance in test_t2i_metrics.py; sqrtm at
    # d = 2048 takes 15-20 s, so benchmarks/t2i_metrics.py runs that end to end).
    real_ref = GaussianStats(np.mean(real_act, axis=0), np.cov(real_act, rowvar=False), len(real_act))
    reference = fid_from_features(fake_act, real_ref)
    assert outcome.metrics["fid"] == pytest.approx(reference, rel=1e-4)
    # KID: torch-fidelity's on pytorch-fid's features (subsets of 4, the smaller set).
    from torch_fidelity.metric_kid import kid_features_to_metric

    kid_reference = kid_features_to_metric(
        torch.from_numpy(fake_act), torch.from_numpy(real_act), kid_subset_size=4, verbose=False
    )
    assert outcome.metrics["kid"] == pytest.approx(kid_reference["kernel_inception_distance_mean"], rel=1e-3)
    assert outcome.metrics["kid_std"] == pytest.approx(kid_reference["kernel_inception_distance_std"], rel=1e-3)
    assert outcome.protocol["kid"]["subset_size"] == 4 and outcome.protocol["kid"]["subsets"] == 100
    inception = outcome.protocol["inception"]
    assert inception["resize"] == "pytorch-fid" and inception["resolution"] == 299
    assert inception["standard_weights"] is False and inception["weights_sha256"] == check_weights(weights, True).sha256
    assert outcome.protocol["fid"]["real_stats_cached"] is False
    assert any("not the published file" in n for n in outcome.notes)
    assert any("IS needs at least 10 images" in n for n in outcome.notes)
    # Second time: the real statistics come from the npz cache, same number.
    monkeypatch.setattr(
        "muge_eval.t2i.feature_metrics.iter_real_images", lambda *a, **k: pytest.fail("real images re-encoded")
    )
    again = task.score(gold, sub)
    assert again.protocol["fid"]["real_stats_cached"] is True
    assert again.metrics["fid"] == pytest.approx(outcome.metrics["fid"], rel=1e-9)
    assert again.metrics["kid"] == pytest.approx(outcome.metrics["kid"], rel=1e-9)
    assert again.protocol["kid"]["real_features_cached"] is True


def test_logits_are_fc_without_bias(weights: Path) -> None:
    extractor = InceptionExtractor(check_weights(weights, True), "pytorch-fid", "cpu")
    images = [png((200, 10, 10), 40, 1), png((10, 10, 200), 40, 2)]
    from io import BytesIO

    from PIL import Image

    pil = [Image.open(BytesIO(b)) for b in images]
    out = extractor(pil)
    assert out.pool.shape == (2, 2048) and out.logits.shape == (2, 1008)
    net = extractor.net
    batch = torch.stack([extractor_input(im) for im in pil])
    with torch.no_grad():
        full = net(2 * batch - 1)  # torchvision's own forward: pool, dropout (eval: identity), fc with bias
    bias = net.fc.bias.double().numpy()
    np.testing.assert_allclose(out.logits + bias, full.double().numpy(), rtol=1e-4, atol=1e-4)


def extractor_input(image: object) -> torch.Tensor:
    from muge_eval.t2i.inception import image_tensor

    return image_tensor(image, "pytorch-fid")  # type: ignore[arg-type]


def test_torchvision_inception_weights_are_refused(tmp_path: Path) -> None:
    import torchvision

    state = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    path = tmp_path / "torchvision_inception.pth"
    torch.save(state, path)
    with pytest.raises(InputError, match="does not fit the FID Inception network"):
        load_fid_inception(check_weights(path, True))


def test_nonstandard_weights_need_consent_and_pickles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(random_inception_state(1), path)
    with pytest.raises(InputError, match="does not begin with 6726825d"):
        check_weights(path, False)
    evil = tmp_path / "evil.pth"
    torch.save({"x": object()}, evil)  # needs pickle to load
    with pytest.raises(InputError, match="weights-only"):
        load_fid_inception(check_weights(evil, True))


def test_weights_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUGE_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MUGE_EVAL_INCEPTION_WEIGHTS", raising=False)
    assert find_weights(None) is None
    hub = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"x")
    assert find_weights(None) == hub
    ours = tmp_path / "cache" / "weights" / WEIGHTS_FILE
    ours.parent.mkdir(parents=True)
    ours.write_bytes(b"x")
    assert find_weights(None) == ours
    monkeypatch.setenv("MUGE_EVAL_INCEPTION_WEIGHTS", str(hub))
    assert find_weights(None) == hub
    assert find_weights(str(ours)) == ours


def test_sample_card_loads() -> None:
    card = load_card(Path(__file__).resolve().parents[1] / "tasks" / "muge-t2i-sample.yaml")
    assert card.type == "t2i" and card.main_metric == "fid"
