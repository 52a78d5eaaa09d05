"""The added model families, each on a tiny random model built here and loaded back as a
user's checkpoint would be: embeddings equal the reference library called directly, the
family's published preprocessing is the default and is recorded."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from family_fixtures import (
    build_altclip,
    build_qwen2_vl_embedder,
    build_sentence_transformers,
    build_taiyi,
    embeddings_server,
    image_vector,
    text_vector,
)
from models_fixtures import build_cn_clip, random_jpeg
from PIL import Image
from released_sets import xtd10

from muge_eval.cli.main import main
from muge_eval.errors import UsageError
from muge_eval.models.args import construct
from muge_eval.models.http_client import HttpError
from muge_eval.plugins import BUILTIN_MODELS, build_registries

torch = pytest.importorskip("torch")
TEXTS = ["新款黄色双肩包", "白色的抱枕 abc", "红"]


def _adapter(adapter_name: str, **args: Any) -> Any:
    factory = build_registries().models.get(adapter_name)
    return construct(factory, {k: str(v) for k, v in args.items()}, adapter_name)


def _images(seed: int = 4) -> tuple[list[bytes], list[Image.Image]]:
    rng = np.random.default_rng(seed)
    data = [random_jpeg(rng, w, h) for w, h in ((70, 40), (33, 90), (64, 64))]
    return data, [Image.open(io.BytesIO(d)).convert("RGB") for d in data]


def _pil_clip_pixels(images: list[Image.Image], size: int = 32) -> Any:
    # CLIP's processor with transformers' PIL backend: resize the shortest side, centre crop.
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return processor(images=images, return_tensors="pt")["pixel_values"]


def test_families_are_registered() -> None:
    for name in ("altclip", "qa-clip", "taiyi-clip", "sentence-transformers", "mllm-embedder", "openai-embeddings"):
        assert name in BUILTIN_MODELS and name in build_registries().models


def test_altclip_matches_transformers_with_its_published_preprocessing(tmp_path: Path) -> None:
    from transformers import AltCLIPModel, AltCLIPProcessor

    directory = build_altclip(tmp_path / "altclip")
    adapter = _adapter("altclip", model=directory, device="cpu")
    protocol = adapter.protocol()
    assert protocol["preprocess"] == "processor" and protocol["context_length"] == 77
    assert protocol["text_preprocess"] == "none" and protocol["family"] == "altclip"
    model, processor = AltCLIPModel.from_pretrained(directory).eval(), AltCLIPProcessor.from_pretrained(directory)
    data, images = _images()
    with torch.no_grad():
        tokens = processor.tokenizer(TEXTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
        expected_text = model.get_text_features(**tokens).pooler_output.numpy()
        expected_image = model.get_image_features(pixel_values=_pil_clip_pixels(images)).pooler_output.numpy()
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-4, atol=1e-5)
    pixels = np.stack([adapter.image_transform()(d) for d in data])
    np.testing.assert_allclose(adapter.encode_pixels(pixels), expected_image, rtol=1e-4, atol=1e-5)


def test_qa_clip_reads_chinese_clip_compatible_checkpoints(tmp_path: Path) -> None:
    vision, text, checkpoint = build_cn_clip(tmp_path)
    args = {"checkpoint": checkpoint, "vision_config": vision, "text_config": text, "device": "cpu"}
    qa, cn = _adapter("qa-clip", **args), _adapter("cn-clip", **args)
    np.testing.assert_array_equal(qa.encode_texts(TEXTS), cn.encode_texts(TEXTS))
    assert qa.protocol()["family"] == "qa-clip" and cn.protocol()["family"] == "chinese-clip"
    assert qa.protocol()["text_preprocess"] == "chinese-clip" and qa.protocol()["preprocess"] == "squash"
    # A released file is looked for under QA-CLIP's own name.
    with pytest.raises(UsageError, match=r"qa-clip: no checkpoint given and .*QA-CLIP-base\.pt does not exist"):
        _adapter("qa-clip", name="ViT-B-16", download_root=tmp_path / "none", device="cpu")


def test_taiyi_clip_is_a_bert_text_tower_with_a_clip_vision_tower(tmp_path: Path) -> None:
    from transformers import BertForSequenceClassification, BertTokenizer, CLIPModel

    text_dir, vision_dir = build_taiyi(tmp_path)
    adapter = _adapter("taiyi-clip", text_model=text_dir, vision_model=vision_dir, device="cpu")
    assert adapter.protocol()["preprocess"] == "processor" and adapter.protocol()["attention_mask"] is True
    bert = BertForSequenceClassification.from_pretrained(text_dir).eval()
    tokenizer = BertTokenizer.from_pretrained(text_dir)
    clip = CLIPModel.from_pretrained(vision_dir).eval()
    data, images = _images(7)
    with torch.no_grad():
        expected_text = bert(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits.numpy()
        expected_image = clip.get_image_features(pixel_values=_pil_clip_pixels(images)).pooler_output.numpy()
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-4, atol=1e-5)
    pixels = np.stack([adapter.image_transform()(d) for d in data])
    np.testing.assert_allclose(adapter.encode_pixels(pixels), expected_image, rtol=1e-4, atol=1e-5)
    # Batch-independent: a text embeds the same alone as beside a longer one.
    np.testing.assert_allclose(adapter.encode_texts(TEXTS[2:]), adapter.encode_texts(TEXTS)[2:], atol=1e-5)


def test_sentence_transformers_multilingual_clip_style(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    text_path, image_path = build_sentence_transformers(tmp_path)
    adapter = _adapter("sentence-transformers", model=text_path, image_model=image_path, device="cpu")
    _, images = _images(9)
    expected_text = SentenceTransformer(str(text_path), device="cpu").encode(TEXTS)
    expected_image = SentenceTransformer(str(image_path), device="cpu").encode(images)
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), expected_text, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adapter.encode_images(images), expected_image, rtol=1e-5, atol=1e-6)
    protocol = adapter.protocol()
    assert protocol["trust_remote_code"] is False and protocol["image_model"] == str(image_path)
    assert adapter.fingerprint().startswith("sha256:")


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(UsageError, match=r"muge-eval\[sentence-transformers\]"):
        _adapter("sentence-transformers", model="anything", device="cpu")


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_qwen2_vl_embedder(tmp_path_factory.mktemp("qwen") / "gme-tiny")


def _gme_reference(directory: Path, prompts: list[str], images: list[Image.Image] | None, positions: str) -> Any:
    """GME's recipe step by step, with transformers called directly."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    budget = {"shortest_edge": 256 * 28 * 28, "longest_edge": 1280 * 28 * 28}
    processor = AutoProcessor.from_pretrained(directory, size=budget)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(directory).eval()
    inputs = processor(text=prompts, images=images, padding=True, truncation=True, max_length=1800, return_tensors="pt")
    with torch.no_grad():
        if positions == "model":
            return model.model(**inputs).last_hidden_state[:, -1].numpy()
        embeds = model.model.get_input_embeddings()(inputs["input_ids"])
        if images:
            visual = model.model.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"]).pooler_output
            embeds[inputs["input_ids"] == model.config.image_token_id] = visual
        out = model.model.language_model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])
        return out.last_hidden_state[:, -1].numpy()


@pytest.mark.parametrize("positions", ["text", "model"])
def test_mllm_embedder_follows_the_gme_recipe(qwen_dir: Path, positions: str) -> None:
    from muge_eval.retrieval.adapters.mllm_embedder import DEFAULT_INSTRUCTION, IMAGE_CONTENT, TEMPLATE

    adapter = _adapter("mllm-embedder", model=qwen_dir, device="cpu", positions=positions, min_pixels=4 * 28 * 28,
                       max_pixels=64 * 28 * 28)  # fmt: skip
    protocol = adapter.protocol()
    assert (
        protocol["query_instruction"] == "Find an image that matches the given text."
        and protocol["positions"] == positions
    )
    prompts = [TEMPLATE.format(instruction=protocol["query_instruction"], content=t) for t in TEXTS]
    np.testing.assert_allclose(adapter.encode_texts(TEXTS), _gme_reference(qwen_dir, prompts, None, positions),
                               rtol=1e-4, atol=1e-4)  # fmt: skip
    _, images = _images(11)
    # GME's own resize first: both sides multiples of 28, at least 4 * 28 * 28 pixels
    # (70x40 -> 84x56, 33x90 -> 56x112, 64x64 -> 56x56, worked out by hand).
    sizes = [(84, 56), (56, 112), (56, 56)]
    fitted = [im.resize(size, Image.Resampling.BICUBIC) for im, size in zip(images, sizes, strict=True)]
    image_prompts = [TEMPLATE.format(instruction=DEFAULT_INSTRUCTION, content=IMAGE_CONTENT)] * len(images)
    expected = _gme_reference(qwen_dir, image_prompts, fitted, positions)
    np.testing.assert_allclose(adapter.encode_images(images), expected, rtol=1e-4, atol=1e-4)
    other = _adapter("mllm-embedder", model=qwen_dir, device="cpu", query_instruction="Represent the text.")
    assert not np.allclose(other.encode_texts(TEXTS), adapter.encode_texts(TEXTS), atol=1e-4)


def test_fit_to_grid_is_qwen_vl_smart_resize() -> None:
    from muge_eval.retrieval.adapters.mllm_embedder import fit_to_grid

    assert fit_to_grid(70, 40, 28, 4 * 784, 64 * 784) == (84, 56)  # 56x28 is under the minimum: scaled up
    assert fit_to_grid(33, 90, 28, 4 * 784, 64 * 784) == (56, 112)
    assert fit_to_grid(1000, 1000, 28, 4 * 784, 16 * 784) == (112, 112)  # scaled down into the budget
    width, height = fit_to_grid(10, 10, 28, 4 * 784, 16 * 784)  # scaled up to the minimum
    assert width % 28 == 0 and height % 28 == 0 and width * height >= 4 * 784


def test_openai_embeddings_against_a_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMB_KEY", "sk-secret-123")
    _, images = _images(13)
    failures = iter([503])
    with embeddings_server(lambda n, payload: next(failures, None)) as server:
        adapter = _adapter("openai-embeddings", model="m", base_url=server["url"], api_key_env="EMB_KEY",
                           backoff_s=0.01, image_prompt="Represent the given image.")  # fmt: skip
        texts = adapter.encode_texts(TEXTS)
        np.testing.assert_allclose(texts, np.asarray([text_vector(t) for t in TEXTS], dtype=np.float32))
        got = adapter.encode_images(images)
        assert got.shape == (3, 8)
        sent = [p for p in server["state"]["payloads"] if "messages" in p]
        assert [c["type"] for c in sent[0]["messages"][0]["content"]] == ["image_url", "text"]
        # PNG is lossless: the server sees the very pixels (requests may arrive in any order).
        for image, vector in zip(images, got, strict=True):
            mean = np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0) / 255.0 - 0.5
            np.testing.assert_allclose(vector[:3], mean, rtol=1e-5)
        received = sorted(image_vector(p["messages"][0]["content"][0]["image_url"]["url"])[0] for p in sent)
        np.testing.assert_allclose(received, sorted(got[:, 0].tolist()), rtol=1e-6)
        assert all(h["Authorization"] == "Bearer sk-secret-123" for h in server["state"]["headers"])
        assert server["state"]["requests"] == 1 + 1 + 3  # one retried 503, one text batch, one request per image
        assert "sk-secret" not in json.dumps(adapter.protocol())
        messages = _adapter("openai-embeddings", model="m", base_url=server["url"], text_input="messages",
                            text_instruction="Find an image that matches the given text.")  # fmt: skip
        np.testing.assert_allclose(messages.encode_texts(TEXTS[:1]), [text_vector(TEXTS[0])], rtol=1e-6)
    with embeddings_server(lambda n, payload: 400) as server:
        adapter = _adapter("openai-embeddings", model="m", base_url=server["url"])
        with pytest.raises(HttpError, match="HTTP 400"):
            adapter.encode_texts(TEXTS)
    with pytest.raises(UsageError, match="text_input=messages"):
        _adapter("openai-embeddings", model="m", text_instruction="x")


def test_a_served_model_runs_through_the_cli_on_a_released_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMB_KEY", "sk-secret-456")
    data = xtd10(tmp_path / "xtd")
    with embeddings_server() as server:
        result = CliRunner().invoke(
            main,
            ["--quiet", "run", "--task", "xtd10-zh-retrieval", "--data-dir", str(data), "--model", "openai-embeddings",
             "--model-args", f"model=m,base_url={server['url']},api_key_env=EMB_KEY",
             "--output-dir", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "--num-workers", "0"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "o").iterdir() if p.is_file())
    assert "sk-secret-456" not in written and '"api_key_env": "<redacted>"' in written
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["model"]["protocol"]["family"] == "served" and "i2t_r1" in results["metrics"]


def test_altclip_runs_through_the_cli_on_a_released_set(tmp_path: Path) -> None:
    from released_sets import aic_icc

    directory = build_altclip(tmp_path / "altclip")
    data = aic_icc(tmp_path / "aic")
    result = CliRunner().invoke(
        main,
        ["--quiet", "run", "--task", "aic-icc-retrieval", "--data-dir", str(data), "--model", "altclip",
         "--model-args", f"model={directory},device=cpu", "--output-dir", str(tmp_path / "o"),
         "--cache-dir", str(tmp_path / "c"), "--num-workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["model"]["protocol"]["preprocess"] == "processor"
    assert results["dataset"]["num_items"] == {"queries": 70, "images": 14}
