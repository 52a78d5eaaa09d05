"""The torch adapters load a user's checkpoint and embed as the reference code does."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from models_fixtures import build_cn_clip, build_hf_chinese_clip, build_open_clip, random_jpeg
from PIL import Image

from muge_eval.data.image_transform import ImageTransform
from muge_eval.errors import InputError, UsageError
from muge_eval.models.args import construct
from muge_eval.plugins import BUILTIN_MODELS, build_registries

torch = pytest.importorskip("torch")
TEXTS = ["新款黄色双肩包", "白色的抱枕", "a"]


def _jpeg(width: int, height: int, seed: int = 1) -> bytes:
    return random_jpeg(np.random.default_rng(seed), width, height)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_chinese_clip(tmp_path_factory.mktemp("hf") / "ckpt")


def _adapter(adapter_name: str, **args: str) -> Any:
    factory = build_registries().models.get(adapter_name)
    return construct(factory, args, adapter_name)


def test_builtin_models_are_registered_lazily() -> None:
    for name in ("hf-chinese-clip", "cn-clip", "open-clip"):
        assert name in BUILTIN_MODELS
        assert name in build_registries().models


def test_hf_chinese_clip_matches_the_published_pipeline(hf_dir: Path) -> None:
    from cn_clip.clip.utils import image_transform
    from transformers import ChineseCLIPModel, ChineseCLIPProcessor

    adapter = _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu")
    model = ChineseCLIPModel.from_pretrained(hf_dir).eval()
    processor = ChineseCLIPProcessor.from_pretrained(hf_dir)
    data = _jpeg(90, 50)
    image = Image.open(io.BytesIO(data))
    # cn_clip's own eval transform: Resize((r, r), BICUBIC), RGB, CLIP mean/std, no crop.
    pixels = image_transform(32)(image).unsqueeze(0)
    with torch.no_grad():
        expected_image = model.get_image_features(pixel_values=pixels).pooler_output.numpy()
        tokens = processor.tokenizer(TEXTS, padding="max_length", max_length=52, truncation=True, return_tensors="pt")
        expected_text = model.get_text_features(**tokens).pooler_output.numpy()
    got_image = adapter.encode_pixels(adapter.image_transform()(data)[None])
    np.testing.assert_allclose(got_image, expected_image, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-4, atol=1e-5)
    protocol = adapter.protocol()
    assert protocol["preprocess"] == "squash" and protocol["context_length"] == 52
    assert adapter.fingerprint().startswith("sha256:")


def test_processor_mode_matches_transformers_processor(hf_dir: Path) -> None:
    from transformers import ChineseCLIPProcessor

    processor = ChineseCLIPProcessor.from_pretrained(hf_dir)
    data = _jpeg(120, 64, seed=3)
    expected = processor.image_processor(Image.open(io.BytesIO(data)), return_tensors="np")["pixel_values"][0]
    transform = ImageTransform(32, "processor", draft=False)
    ours = transform(data).astype(np.float32).transpose(2, 0, 1) / 255.0
    ours = (ours - np.array(transform.mean)[:, None, None]) / np.array(transform.std)[:, None, None]
    # Both resize with PIL bicubic and crop the centre; they may differ by a uint8 step.
    assert np.abs(ours - expected).max() < 2.5 / 255 / min(transform.std)
    squash = ImageTransform(32, "squash", draft=False)(data)
    assert np.abs(squash.astype(int) - transform(data).astype(int)).mean() > 1  # not the same pixels


def test_jpeg_draft_decodes_large_images_at_reduced_scale() -> None:
    data = _jpeg(256, 256)
    with_draft = ImageTransform(32, draft=True)
    assert with_draft.open(data).size == (32, 32)  # 1/8 scale: still at least 32
    assert ImageTransform(48, draft=True).open(data).size == (64, 64)  # 1/4
    assert ImageTransform(32, draft=False).open(data).size == (256, 256)
    difference = np.abs(with_draft(data).astype(int) - ImageTransform(32, draft=False)(data).astype(int))
    assert difference.mean() < 3
    assert with_draft.describe()["jpeg_draft"] is True


def test_hf_chinese_clip_options_are_checked(hf_dir: Path) -> None:
    with pytest.raises(UsageError, match="dtype"):
        _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu", dtype="float8")
    with pytest.raises(UsageError, match="CUDA"):
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        _adapter("hf-chinese-clip", model=str(hf_dir), device="cuda:1")
    with pytest.raises(UsageError, match="preprocess"):
        _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu", preprocess="crop")
    with pytest.raises(InputError):
        _adapter("hf-chinese-clip", model=str(hf_dir / "missing"), device="cpu")
    bf16 = _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu", dtype="bfloat16", batch_size="7")
    assert bf16.batch_size == 7 and bf16.encode_texts(TEXTS).dtype == np.float32
    assert bf16.encode_pixels(bf16.image_transform()(_jpeg(40, 40))[None]).shape == (1, 16)


def test_cn_clip_loads_a_training_checkpoint_weights_only(tmp_path: Path) -> None:
    from cn_clip.clip import tokenize
    from cn_clip.clip.model import CLIP
    from cn_clip.clip.utils import image_transform

    vision, text, checkpoint = build_cn_clip(tmp_path)
    adapter = _adapter(
        "cn-clip", checkpoint=str(checkpoint), vision_config=str(vision), text_config=str(text), device="cpu"
    )
    import json

    reference = CLIP(**json.loads(vision.read_text()), **json.loads(text.read_text()))
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    reference.load_state_dict({k[len("module.") :]: v for k, v in state.items()})
    reference.eval()
    data = _jpeg(70, 40, seed=5)
    with torch.no_grad():
        expected_image = reference.encode_image(image_transform(32)(Image.open(io.BytesIO(data))).unsqueeze(0))
        expected_text = reference.encode_text(tokenize(TEXTS, context_length=52))
    np.testing.assert_allclose(adapter.encode_pixels(adapter.image_transform()(data)[None]), expected_image, atol=1e-5)
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-4, atol=1e-5)
    assert adapter.protocol()["library"] == "cn_clip"
    half = _adapter(
        "cn-clip", checkpoint=str(checkpoint), vision_config=str(vision), text_config=str(text), dtype="bfloat16"
    )
    assert half.device == "cpu" and half.encode_texts(TEXTS).shape == (3, 16)
    assert half.encode_pixels(half.image_transform()(data)[None]).dtype == np.float32


def test_cn_clip_refuses_pickled_code_and_bad_configs(tmp_path: Path) -> None:
    vision, text, checkpoint = build_cn_clip(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "hook": Path("x")}, evil)  # an arbitrary class: not weights-only loadable
    with pytest.raises(InputError, match="weights-only"):
        _adapter("cn-clip", checkpoint=str(evil), vision_config=str(vision), text_config=str(text), device="cpu")
    with pytest.raises(UsageError, match="name"):
        _adapter("cn-clip", checkpoint=str(checkpoint), name="ViT-Z-99", device="cpu")
    with pytest.raises(UsageError):
        _adapter("cn-clip", checkpoint=str(checkpoint), device="cpu")
    with pytest.raises(UsageError, match="does not exist"):
        _adapter("cn-clip", name="RN50", download_root=str(tmp_path / "empty"), device="cpu")
    # A released file is found where cn_clip keeps it; the bundled RN50 architecture does
    # not fit the tiny weights: a clear error, no traceback.
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "clip_cn_rn50.pt").write_bytes(checkpoint.read_bytes())
    with pytest.raises(InputError, match="do not fit"):
        _adapter("cn-clip", name="RN50", download_root=str(tmp_path / "root"), device="cpu")


def test_open_clip_loads_a_checkpoint_file(tmp_path: Path) -> None:
    import open_clip

    config, checkpoint = build_open_clip(tmp_path)
    args = {"model": "tiny-clip", "pretrained": str(checkpoint), "model_config": str(config), "device": "cpu"}
    adapter = _adapter("open-clip", **args)
    reference, _, preprocess = open_clip.create_model_and_transforms("tiny-clip", pretrained=str(checkpoint))
    reference.eval()
    data = _jpeg(80, 48, seed=7)
    with torch.no_grad():
        expected_image = reference.encode_image(preprocess(Image.open(io.BytesIO(data))).unsqueeze(0)).numpy()
        expected_text = reference.encode_text(open_clip.get_tokenizer("tiny-clip")(TEXTS)).numpy()
    got = adapter.encode_pixels(adapter.image_transform()(data)[None])
    # open_clip's own transform is resize + centre crop, our processor mode (PIL vs tensor rounding).
    assert np.abs(got - expected_image).max() < 0.05 * np.abs(expected_image).max()
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-4, atol=1e-5)
    assert adapter.fingerprint().startswith("sha256:")
    half = _adapter("open-clip", **{**args, "dtype": "bfloat16"})
    assert next(half.model.parameters()).dtype == torch.bfloat16
    low = half.encode_pixels(half.image_transform()(data)[None])
    assert low.dtype == np.float32 and np.abs(low - got).max() < 0.1 * np.abs(got).max()


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "open_clip", None)  # makes `import open_clip` fail
    with pytest.raises(UsageError, match=r"muge-eval\[open-clip\]"):
        _adapter("open-clip", model="anything", device="cpu")


def test_autocast_is_recorded_and_close_to_float32(hf_dir: Path) -> None:
    plain = _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu")
    mixed = _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu", autocast="bfloat16")
    assert mixed.protocol()["autocast"] == "bfloat16" and plain.protocol()["autocast"] is None
    pixels = mixed.image_transform()(_jpeg(64, 64))[None]
    got, expected = mixed.encode_pixels(pixels), plain.encode_pixels(pixels)
    assert got.dtype == np.float32 and not np.array_equal(got, expected)
    cosine = float(got[0] @ expected[0] / np.linalg.norm(got[0]) / np.linalg.norm(expected[0]))
    assert cosine > 0.99


def test_auto_batch_size_halves_until_the_gpu_batch_fits(hf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = _adapter("hf-chinese-clip", model=str(hf_dir), device="cpu")
    assert adapter.auto_batch_size() is None  # no preference on the CPU: the run's default
    tried: list[int] = []

    def fake_encode(pixels: np.ndarray) -> np.ndarray:
        tried.append(len(pixels))
        if len(pixels) > 100:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return np.zeros((len(pixels), 4), dtype=np.float32)

    monkeypatch.setattr(adapter, "device", "cuda:0")
    monkeypatch.setattr(adapter, "encode_pixels", fake_encode)
    monkeypatch.setattr(adapter, "encode_texts", lambda texts: np.zeros((len(texts), 4), dtype=np.float32))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    assert adapter.auto_batch_size() == 64 and tried == [1024, 512, 256, 128, 64]
