"""Parity with the peers' own pipelines, run here on random-weight checkpoints, with
default options: Chinese-CLIP's evaluation scripts (``cn_clip.eval``: LMDB images,
``extract_features``, ``make_topk_predictions(_tr)``, ``evaluation(_tr)``) for ``cn-clip``,
and transformers' processor and model called directly for ``hf-chinese-clip``. Same top-10
on well-separated queries, same R@k to 1e-9, in both directions.

Chinese-CLIP's scripts put the model and tensors on CUDA; ``cuda_to_cpu`` patches only
those device calls so they run on this machine's CPU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from models_fixtures import build_hf_chinese_clip
from parity_helpers import (
    assert_close_embeddings,
    assert_same_rankings,
    assert_same_recalls,
    cuda_to_cpu,
    embeddings_of,
    make_chinese_clip_split,
    rankings,
    read_jsonl,
    run_script,
    score_rows,
    well_separated,
)
from retrieval_helpers import official_scores

from muge_eval.cli.main import main
from muge_eval.models.args import construct
from muge_eval.plugins import build_registries

torch = pytest.importorskip("torch")
pytest.importorskip("cn_clip")


def _run_ours(data_dir: Path, out: Path, model: str, args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main,
        [
            "--quiet",
            "run",
            "--task",
            "flickr30k-cn-retrieval",
            "--data-dir",
            str(data_dir),
            "--model",
            model,
            "--model-args",
            args,
            "--output-dir",
            str(out),
            "--no-embedding-cache",
            "--num-workers",
            "0",
            "--cache-dir",
            str(out / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    (results,) = out.rglob("results.json")
    return json.loads(results.read_text(encoding="utf-8")) | {"_dir": results.parent}


def _adapter(name: str, args: str) -> Any:
    pairs = dict(item.split("=", 1) for item in args.split(","))
    return construct(build_registries().models.get(name), pairs, name)


def _our_metrics(results: dict[str, Any], prefix: str) -> dict[str, float]:
    return {name: results["metrics"][prefix + name] for name in ("r1", "r5", "r10", "mean_recall")}


def _random_rn50_checkpoint(directory: Path) -> Path:
    """A random-weight CN-CLIP RN50 (RBT3 text tower) saved as Chinese-CLIP's training does."""
    from cn_clip.clip.model import CLIP

    from muge_eval.retrieval.adapters.cn_clip_adapter import _bundled_config, _read_config

    torch.manual_seed(0)
    info = {**_read_config(_bundled_config("RN50")), **_read_config(_bundled_config("RBT3-chinese"))}
    model = CLIP(**info)
    # Freshly initialised BatchNorm statistics make every image embed alike; one pass over
    # noise in training mode spreads them out (the weights stay random).
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model.encode_image(torch.randn(2, 3, 224, 224))
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = directory / "epoch_latest.pt"
    torch.save({"epoch": 1, "step": 10, "name": "random", "state_dict": state}, path)
    return path


def test_cn_clip_matches_chinese_clip_evaluation_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_chinese_clip_split(tmp_path / "Flickr30k-CN", n_images=12)
    checkpoint = _random_rn50_checkpoint(tmp_path)
    ref = tmp_path / "ref"
    ref.mkdir()
    # The reference pipeline, as its README runs it.
    cuda_to_cpu(monkeypatch)
    run_script(monkeypatch, "cn_clip.preprocess.build_lmdb_dataset", "--data_dir", str(data), "--splits", "test")
    img_feats, txt_feats = ref / "test_imgs.img_feat.jsonl", ref / "test_texts.txt_feat.jsonl"
    run_script(
        monkeypatch, "cn_clip.eval.extract_features", "--extract-image-feats", "--extract-text-feats",
        f"--image-data={data / 'lmdb' / 'test' / 'imgs'}", f"--text-data={data / 'test_texts.jsonl'}",
        f"--image-feat-output-path={img_feats}", f"--text-feat-output-path={txt_feats}",
        "--img-batch-size=12", "--text-batch-size=24", "--context-length=52", f"--resume={checkpoint}",
        "--vision-model=RN50", "--text-model=RBT3-chinese",
    )  # fmt: skip
    feats = [f"--image-feats={img_feats}", f"--text-feats={txt_feats}", "--top-k=10"]
    run_script(monkeypatch, "cn_clip.eval.make_topk_predictions", *feats, f"--output={ref / 't2i.jsonl'}")
    run_script(monkeypatch, "cn_clip.eval.make_topk_predictions_tr", *feats, f"--output={ref / 'i2t.jsonl'}")
    run_script(monkeypatch, "cn_clip.eval.evaluation", str(data / "test_texts.jsonl"), str(ref / "t2i.jsonl"),
               str(ref / "t2i_score.json"))  # fmt: skip
    run_script(monkeypatch, "cn_clip.eval.transform_ir_annotation_to_tr", "--input", str(data / "test_texts.jsonl"))
    run_script(monkeypatch, "cn_clip.eval.evaluation_tr", str(data / "test_texts.tr.jsonl"), str(ref / "i2t.jsonl"),
               str(ref / "i2t_score.json"))  # fmt: skip
    monkeypatch.undo()

    args = f"name=RN50,checkpoint={checkpoint},device=cpu"
    ours = _run_ours(data, tmp_path / "ours", "cn-clip", args)
    assert ours["model"]["protocol"]["text_preprocess"] == "chinese-clip"
    assert ours["model"]["protocol"]["jpeg_draft"] is False
    text_vecs = {r["text_id"]: np.asarray(r["feature"]) for r in read_jsonl(txt_feats)}
    image_vecs = {r["image_id"]: np.asarray(r["feature"]) for r in read_jsonl(img_feats)}
    our_images, our_texts = embeddings_of(_adapter("cn-clip", args), data)
    assert_close_embeddings(our_images, image_vecs)
    assert_close_embeddings(our_texts, text_vecs)
    for direction, prefix, queries, targets, id_key, list_key, reference in (
        ("t2i", "", text_vecs, image_vecs, "text_id", "image_ids", "t2i"),
        ("i2t", "i2t_", image_vecs, text_vecs, "image_id", "text_ids", "i2t"),
    ):
        separated = well_separated(score_rows(queries, targets))
        ours_file = "predictions.jsonl" if direction == "t2i" else "predictions_image_to_text.jsonl"
        assert_same_rankings(
            rankings(ours["_dir"] / ours_file, id_key, list_key),
            rankings(ref / f"{reference}.jsonl", id_key, list_key),
            separated,
        )
        score = json.loads((ref / f"{reference}_score.json").read_text())["scoreJson"]
        assert_same_recalls(_our_metrics(ours, prefix), {k: score[k] for k in ("r1", "r5", "r10", "mean_recall")})


def _transformers_reference(model_dir: Path, data: Path, squash: bool) -> tuple[dict[int, Any], dict[int, Any]]:
    """Embeddings from transformers' own processor and model, called directly."""
    import base64
    import io

    from cn_clip.eval.data import _preprocess_text
    from PIL import Image
    from transformers import BertTokenizer, ChineseCLIPModel
    from transformers.models.chinese_clip.image_processing_chinese_clip import ChineseCLIPImageProcessor
    from transformers.models.chinese_clip.image_processing_pil_chinese_clip import ChineseCLIPImageProcessorPil

    model = ChineseCLIPModel.from_pretrained(model_dir).eval()
    tokenizer = BertTokenizer.from_pretrained(model_dir)
    r = model.config.vision_config.image_size
    if squash:
        # The published protocol with the processor itself: Resize((r, r), BICUBIC), no crop
        # (PIL backend), and Chinese-CLIP's own text preprocessing.
        processor: Any = ChineseCLIPImageProcessorPil(size={"height": r, "width": r}, do_center_crop=False)
        prepare = _preprocess_text
    else:
        # As saved (resize the short side, centre crop), with the PIL backend:
        # transformers 5 defaults to a torchvision backend whose tensor resize differs from
        # PIL's by up to a uint8 step; `preprocess=processor` reproduces the PIL backend.
        saved = ChineseCLIPImageProcessor.from_pretrained(model_dir)
        processor = ChineseCLIPImageProcessorPil(size=dict(saved.size), crop_size=dict(saved.crop_size))

        def prepare(text: str) -> str:
            return text

    images = {}
    for line in (data / "test_imgs.tsv").read_text().splitlines():
        image_id, b64 = line.split("\t")
        image = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
        with torch.no_grad():
            pixels = processor(images=image, return_tensors="pt")["pixel_values"]
            images[int(image_id)] = model.get_image_features(pixel_values=pixels).pooler_output[0].numpy()
    texts = {}
    for row in read_jsonl(data / "test_texts.jsonl"):
        tokens = tokenizer([prepare(row["text"])], padding="max_length", max_length=52, truncation=True,
                           return_tensors="pt")  # fmt: skip
        with torch.no_grad():
            texts[row["text_id"]] = model.get_text_features(**tokens).pooler_output[0].numpy()
    normalise = {k: v / np.linalg.norm(v) for k, v in images.items()}
    return normalise, {k: v / np.linalg.norm(v) for k, v in texts.items()}


def _reference_topk(scores: dict[int, list[float]], target_ids: list[int]) -> dict[int, list[int]]:
    # Ties keep the earlier target first, as the official ranker does.
    return {q: [target_ids[j] for j in sorted(range(len(row)), key=lambda j: (-row[j], j))[:10]]
            for q, row in scores.items()}  # fmt: skip


@pytest.mark.parametrize("squash", [True, False], ids=["defaults", "processor-mode"])
def test_hf_chinese_clip_matches_transformers_called_directly(tmp_path: Path, squash: bool) -> None:
    model_dir = build_hf_chinese_clip(tmp_path / "ckpt", image_size=64)
    data = make_chinese_clip_split(tmp_path / "data", n_images=24, seed=3)
    args = f"model={model_dir},device=cpu" + ("" if squash else ",preprocess=processor,text_preprocess=none")
    ours = _run_ours(data, tmp_path / "ours", "hf-chinese-clip", args)
    images, texts = _transformers_reference(model_dir, data, squash)
    our_images, our_texts = embeddings_of(_adapter("hf-chinese-clip", args), data)
    assert_close_embeddings(our_images, images)
    assert_close_embeddings(our_texts, texts)
    gold = {r["text_id"]: r["image_ids"] for r in read_jsonl(data / "test_texts.jsonl")}
    inverted: dict[int, list[int]] = {}
    for text_id, image_ids in gold.items():
        for image_id in image_ids:
            inverted.setdefault(image_id, []).append(text_id)
    for prefix, queries, targets, truth, id_key, list_key, name in (
        ("", texts, images, gold, "text_id", "image_ids", "predictions.jsonl"),
        ("i2t_", images, texts, inverted, "image_id", "text_ids", "predictions_image_to_text.jsonl"),
    ):
        scores = score_rows(queries, targets)
        reference = _reference_topk(scores, list(targets))
        assert_same_rankings(rankings(ours["_dir"] / name, id_key, list_key), reference, well_separated(scores))
        assert_same_recalls(_our_metrics(ours, prefix), official_scores(truth, reference))
