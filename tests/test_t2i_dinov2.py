"""FD-DINOv2 with a tiny random DINOv2 saved to a temporary directory (never downloaded):
features against transformers + dgm-eval's preprocessing written with torchvision, the
torch.hub checkpoint format, the distance against scipy's sqrtm formula, precision/recall
on DINOv2 features against the prdc package, and the real-feature cache."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg
from t2i_helpers import png, write_dataset, write_submission

from muge_eval.errors import InputError
from muge_eval.plugins import build_registries
from muge_eval.t2i.dinov2 import DinoV2Extractor, check_dinov2_weights
from muge_eval.tasktypes.loading import load_task


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=1, mlp_ratio=2, patch_size=14, image_size=56
    )
    model = Dinov2Model(config)
    with torch.no_grad():  # layer scale 1.0 by default; the released models use small values
        for name, parameter in model.named_parameters():
            if "lambda1" in name:
                parameter.uniform_(0.1, 0.5)
    directory = tmp_path_factory.mktemp("dinov2") / "tiny-dinov2"
    model.save_pretrained(str(directory))
    return directory


def reference_features(directory: Path, images: list) -> np.ndarray:
    """dgm-eval's DINOv2 encoder: torchvision Resize((224, 224), BICUBIC), ToTensor,
    Normalize(ImageNet); the CLS token after the final norm (transformers' pooler_output)."""
    from torchvision import transforms
    from transformers import Dinov2Model

    transform = transforms.Compose(
        [
            transforms.Resize((224, 224), transforms.InterpolationMode.BICUBIC),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    model = Dinov2Model.from_pretrained(str(directory)).eval()
    batch = torch.stack([transform(im.convert("RGB")) for im in images])
    with torch.no_grad():
        return model(pixel_values=batch).pooler_output.double().numpy()


def hub_checkpoint(directory: Path, path: Path) -> Path:
    """The tiny model saved as facebookresearch/dinov2's torch.hub state dict."""
    from transformers import Dinov2Model

    state = Dinov2Model.from_pretrained(str(directory)).state_dict()
    new_names = "encoder.layer.0.attention.q_proj.weight" in state
    q, k, v, o = (
        ("q_proj", "k_proj", "v_proj", "o_proj")
        if new_names
        else ("attention.query", "attention.key", "attention.value", "output.dense")
    )
    hub = {
        "cls_token": state["embeddings.cls_token"],
        "mask_token": state["embeddings.mask_token"],
        "pos_embed": state["embeddings.position_embeddings"],
        "patch_embed.proj.weight": state["embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": state["embeddings.patch_embeddings.projection.bias"],
        "norm.weight": state["layernorm.weight"],
        "norm.bias": state["layernorm.bias"],
    }
    for i in range(2):
        layer, block = f"encoder.layer.{i}.", f"blocks.{i}."
        for leaf in ("weight", "bias"):
            for name in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
                hub[f"{block}{name}.{leaf}"] = state[f"{layer}{name}.{leaf}"]
            parts = [state[f"{layer}attention.{p}.{leaf}"] for p in (q, k, v)]
            hub[f"{block}attn.qkv.{leaf}"] = torch.cat(parts)
            hub[f"{block}attn.proj.{leaf}"] = state[f"{layer}attention.{o}.{leaf}"]
        hub[f"{block}ls1.gamma"] = state[f"{layer}layer_scale1.lambda1"]
        hub[f"{block}ls2.gamma"] = state[f"{layer}layer_scale2.lambda1"]
    torch.save(hub, path)
    return path


def _images() -> list:
    from PIL import Image

    return [Image.open(io.BytesIO(png((30 * n, 90, 200 - 20 * n), 40 + 7 * n, n))) for n in range(4)]


def test_features_equal_transformers_with_dgm_eval_preprocessing(tiny_dinov2: Path, tmp_path: Path) -> None:
    images = _images()
    weights = check_dinov2_weights(tiny_dinov2, allow_nonstandard=True)
    ours = DinoV2Extractor(weights, "cpu")(images)
    assert ours.shape == (4, 64)
    np.testing.assert_allclose(ours, reference_features(tiny_dinov2, images), rtol=1e-4, atol=1e-5)
    # The torch.hub checkpoint of the same network gives the same features.
    hub = check_dinov2_weights(hub_checkpoint(tiny_dinov2, tmp_path / "dinov2_tiny.pth"), allow_nonstandard=True)
    assert hub.kind == "hub-file" and hub.architecture["hidden_size"] == 64 and hub.architecture["image_size"] == 56
    np.testing.assert_allclose(DinoV2Extractor(hub, "cpu")(images), ours, rtol=1e-5, atol=1e-6)


def test_nonstandard_or_foreign_weights_are_refused(tiny_dinov2: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not DINOv2 ViT-L/14"):
        check_dinov2_weights(tiny_dinov2, allow_nonstandard=False)
    other = tmp_path / "not-dinov2"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "vit"}', encoding="utf-8")
    with pytest.raises(InputError, match="not 'dinov2'"):
        check_dinov2_weights(other, allow_nonstandard=True)
    stray = tmp_path / "stray.pth"
    torch.save({"weight": torch.zeros(2)}, stray)
    with pytest.raises(InputError, match=r"not a DINOv2 torch\.hub state dict"):
        check_dinov2_weights(stray, allow_nonstandard=True)


def test_fd_dinov2_and_prdc_through_the_task(
    tiny_dinov2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prdc import compute_prdc

    data = tmp_path / "data"
    ids = write_dataset(data, 8)
    submission = write_submission(tmp_path / "sub.tsv", ids)
    options = {
        "dinov2_weights": str(tiny_dinov2),
        "allow_nonstandard_weights": "true",
        "metrics": "fd_dinov2,precision,recall,density,coverage",
        "prdc_features": "dinov2",
        "stats_dir": str(tmp_path / "stats"),
        "device": "cpu",
        "image_size": "any",
    }
    task = load_task(build_registries(), "muge-t2i", options)
    gold = task.load_gold("valid", data, None, None)
    sub = task.read_submission(gold, submission, None)
    outcome = task.score(gold, sub)
    from muge_eval.t2i.data import iter_real_images

    real = reference_features(tiny_dinov2, [im for _, im in iter_real_images(data / "T2I_valid.img.tsv")])
    fake = reference_features(tiny_dinov2, [im for _, im in sub.iter_images(ids)])
    mu1, mu2 = fake.mean(axis=0), real.mean(axis=0)
    s1, s2 = np.cov(fake, rowvar=False), np.cov(real, rowvar=False)
    expected = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))
    # (features agree to ~1e-6; scipy's sqrtm of the singular 64x64 product adds the rest)
    assert outcome.metrics["fd_dinov2"] == pytest.approx(expected, rel=1e-6)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = compute_prdc(real, fake, 5)
    for name in ("precision", "recall", "density", "coverage"):
        assert outcome.metrics[name] == pytest.approx(float(reference[name]), abs=1e-12), name
    assert outcome.protocol["dinov2"]["weights_sha256"].startswith("sha256:")
    assert outcome.protocol["prdc"]["features"] == "dinov2" and outcome.protocol["prdc"]["k"] == 5
    assert {"prdc_in_real", "prdc_real_balls"} <= set(outcome.samples[0])
    assert outcome.metric_info["precision"].aggregation == "mean"
    # A second scoring reads no real image: the DINOv2 features come from the cache.
    monkeypatch.setattr(
        "muge_eval.t2i.feature_metrics.iter_real_images", lambda *a, **k: pytest.fail("real images re-read")
    )
    again = task.score(gold, sub)
    assert again.protocol["fd_dinov2"]["real_stats_cached"] is True
    assert again.metrics == outcome.metrics
