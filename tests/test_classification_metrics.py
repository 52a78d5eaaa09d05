"""Zero-shot classification numbers against independent references: closed-form cases, a
brute-force re-implementation, torchvision's ImageFolder, torch.topk and Chinese-CLIP's
own zero_shot_classifier and _preprocess_text called directly."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from classification_helpers import SAMPLE, make_image_folder, reference_metrics

from muge_eval.classification.gold import ClassificationGold, load_gold
from muge_eval.classification.metrics import classification_metric_specs
from muge_eval.classification.prompts import (
    CHINESE_CLIP,
    NO_PREPROCESSING,
    build_prompts,
    chinese_clip_text,
    ensemble_classifier,
    parse_templates,
)
from muge_eval.classification.ranking import topk_classes
from muge_eval.classification.scoring import score_predictions
from muge_eval.errors import InputError
from muge_eval.metrics.persample import SampleValues, sample_values


def _gold(labels: list[int], n_classes: int) -> ClassificationGold:
    ids = tuple(f"{label:03d}/{n}.jpg" for n, label in enumerate(labels))
    names = tuple(f"类{c}" for c in range(n_classes))
    folders = tuple(f"{c:03d}" for c in range(n_classes))
    return ClassificationGold("root", ids, tuple(labels), folders, names, "label_cn.txt")


def _reproduced(metric: str, value: float, samples: list[dict[str, object]]) -> float:
    """The metric recomputed from the samples by its recorded spec, as the board does."""
    spec = next(s for s in classification_metric_specs() if s.name == metric)
    found = sample_values(spec.recorded(), value, samples, "image_id")
    assert isinstance(found, SampleValues), found
    return float(found.values.mean() * found.scale)


def test_closed_form_case() -> None:
    # Classes of 1, 2 and 3 images; hits at 1: class 0 all, class 1 half, class 2 a third.
    gold = _gold([0, 1, 1, 2, 2, 2], 6)
    predictions = {
        gold.image_ids[0]: (0, 1, 2, 3, 4),
        gold.image_ids[1]: (1, 0, 2, 3, 4),
        gold.image_ids[2]: (0, 2, 3, 4, 5),  # class 1 not in the top 5
        gold.image_ids[3]: (5, 4, 3, 2, 1),  # class 2 at rank 3
        gold.image_ids[4]: (0, 1, 3, 4, 5),  # class 2 not in the top 5
        gold.image_ids[5]: (2, 0, 1, 3, 4),
    }
    result = score_predictions(gold, predictions)
    assert result.metrics["top1"] == pytest.approx(300 / 6)
    assert result.metrics["top5"] == pytest.approx(400 / 6)
    assert result.metrics["mean_per_class_recall"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3) / 3)
    # Balanced classes: mean per-class recall is top-1 exactly.
    balanced = _gold([0, 0, 1, 1], 3)
    hits = {balanced.image_ids[0]: (0, 1, 2), balanced.image_ids[1]: (1, 0, 2)}
    hits |= {balanced.image_ids[2]: (1, 0, 2), balanced.image_ids[3]: (1, 2, 0)}
    scored = score_predictions(balanced, hits).metrics
    assert scored["top1"] == scored["mean_per_class_recall"] == 75.0
    assert scored["top5"] == 100.0


def test_brute_force_and_samples_reproduce_every_metric() -> None:
    rng = random.Random(3)
    for trial in range(40):
        n_classes = rng.randint(1, 12)
        # Some classes absent, sizes uneven.
        labels = [rng.randrange(n_classes) for _ in range(rng.randint(1, 60))]
        gold = _gold(labels, n_classes)
        k = min(5, n_classes)
        predictions = {i: tuple(rng.sample(range(n_classes), k)) for i in gold.image_ids}
        result = score_predictions(gold, predictions)
        expected = reference_metrics(dict(zip(gold.image_ids, labels, strict=True)), predictions)
        for name, value in expected.items():
            assert result.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-12), (trial, name)
            samples = [dict(s) for s in result.samples]
            assert _reproduced(name, result.metrics[name], samples) == pytest.approx(value, rel=1e-9), (trial, name)


def test_ranking_ties_go_to_the_lower_class_index() -> None:
    classifier = np.eye(6)
    images = np.array(
        [
            [0, 1, 1, 0, 1, 0],  # three tied at the top: 1, 2, 4, then the zeros in index order
            [0, 0, 0, 0, 0, 0],  # all tied (a zero embedding): 0..4
            [3, 1, 2, 2, 0, 5],
        ],
        dtype=np.float32,
    )
    assert topk_classes(images, classifier, 5).tolist() == [[1, 2, 4, 0, 3], [0, 1, 2, 3, 4], [5, 0, 2, 3, 1]]
    # k larger than the classes: every class, ranked.
    assert topk_classes(images[:1], classifier[:3], 5).tolist() == [[1, 2, 0]]


def test_ranking_matches_torch_topk_and_brute_force() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    images = rng.standard_normal((300, 16)).astype(np.float32)
    classifier = rng.standard_normal((40, 16))
    classifier /= np.linalg.norm(classifier, axis=1, keepdims=True)
    got = topk_classes(images, classifier, 5)
    normalised = images / np.linalg.norm(images, axis=1, keepdims=True)
    logits = torch.from_numpy(normalised.astype(np.float64) @ classifier.T)
    # Chinese-CLIP's ranking: topk of softmax(100 * logits), which keeps the order.
    expected = (100.0 * logits).softmax(dim=-1).topk(5, 1, True, True)[1].numpy()
    assert np.array_equal(got, expected)
    for row in range(0, 300, 37):
        scores = normalised[row].astype(np.float64) @ classifier.T
        brute = sorted(range(40), key=lambda c: (-scores[c], c))[:5]
        assert got[row].tolist() == brute


def test_templates_are_checked_and_filled() -> None:
    assert parse_templates(["一张{}的照片。", "{}的图片", "一张{}的照片。"]) == (
        "一张{}的照片。",
        "{}的图片",
        "一张{}的照片。",
    )
    assert parse_templates("a {},b {}") == ("a {}", "b {}")
    for bad in (["没有占位符"], "x", [], [["{}"]], {"a": "{}"}):
        with pytest.raises(ValueError):
            parse_templates(bad)
    prompts = build_prompts(["猫", "Dog “X”"], ["一张{}的照片。", "{}，{}"], CHINESE_CLIP)
    assert prompts.texts == ("一张猫的照片。", "猫，猫", '一张dog "x"的照片。', 'dog "x"，dog "x"')
    assert prompts.ids == (0, 1, 2, 3) and (prompts.n_classes, prompts.n_templates) == (2, 2)
    raw = build_prompts(["Dog “X”"], ["{}"], NO_PREPROCESSING)
    assert raw.texts == ("Dog “X”",) and raw.digest() != build_prompts(["Dog “X”"], ["{}"], CHINESE_CLIP).digest()


def test_preprocessing_and_ensemble_match_chinese_clip() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("cn_clip")
    from cn_clip.clip import tokenize
    from cn_clip.eval.data import _preprocess_text
    from cn_clip.eval.zeroshot_evaluation import zero_shot_classifier

    for text in ("A “Quoted” Name", "ÄÖ BIG “x” ”y“", "普通文字"):
        assert chinese_clip_text(text) == _preprocess_text(text)

    class TokenBag(torch.nn.Module):
        """A text encoder that sums a fixed embedding per token id: deterministic, order-free."""

        def __init__(self) -> None:
            super().__init__()
            self.table = torch.nn.Embedding(21128, 8)
            torch.nn.init.normal_(self.table.weight, generator=torch.Generator().manual_seed(0))

        def forward(self, image: object, text: torch.Tensor) -> torch.Tensor:
            return self.table(text).sum(dim=1).double()

    model = TokenBag()
    names = ["红色圆形", "Blue “Square”", "绿色三角形"]
    templates = ["一张{}的照片。", "{}的图片", "一个{}。", "{}的图片"]
    args = type("Args", (), {"context_length": 52, "gpu": "cpu"})()
    reference = zero_shot_classifier(model, names, [lambda c, t=t: t.replace("{}", c) for t in templates], args)
    prompts = build_prompts(names, templates, CHINESE_CLIP)
    with torch.no_grad():
        embeddings = model(None, tokenize(list(prompts.texts), context_length=52)).numpy()
    ours = ensemble_classifier(embeddings, prompts)
    np.testing.assert_allclose(ours, reference.numpy().T, rtol=1e-12, atol=1e-12)


def test_image_folder_order_is_torchvision_s(tmp_path: Path) -> None:
    datasets = pytest.importorskip("torchvision.datasets")
    root = tmp_path / "data"
    split = root / "valid"
    layout = {
        "b": ["z.jpg", "a.PNG", "notes.txt", "sub/c.jpeg", "sub/deeper/d.webp"],
        "C": ["x.JpG"],
        "a": ["m.bmp", "l.jpg", "README"],
        ".hidden": ["h.jpg"],
    }
    for folder, files in layout.items():
        for name in files:
            path = split / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not decoded here")
    (split / "stray.jpg").write_bytes(b"a file beside the class folders is no class")
    (root / "label_cn.txt").write_text("隐藏\n大写\n甲\n乙\n", encoding="utf-8")
    gold = load_gold(root, "valid")
    reference = datasets.ImageFolder(str(split), loader=lambda path: path)
    assert list(gold.class_folders) == reference.classes
    expected = [(Path(p).relative_to(split).as_posix(), t) for p, t in reference.samples]
    assert list(zip(gold.image_ids, gold.labels, strict=True)) == expected
    assert gold.skipped_files == 2 and gold.class_names == ("隐藏", "大写", "甲", "乙")


def test_bundled_sample_is_read_as_torchvision_reads_it() -> None:
    datasets = pytest.importorskip("torchvision.datasets")
    gold = load_gold(SAMPLE, "valid")
    reference = datasets.ImageFolder(str(SAMPLE / "valid"))
    assert [Path(p).relative_to(SAMPLE / "valid").as_posix() for p, _ in reference.samples] == list(gold.image_ids)
    assert [t for _, t in reference.samples] == list(gold.labels)
    assert gold.num_classes == 10 and len(gold.image_ids) == 80 and gold.notes() == []


def test_gold_problems_name_the_file(tmp_path: Path) -> None:
    make_image_folder(tmp_path / "ok", ["甲", "乙"], [2, 1])
    assert load_gold(tmp_path / "ok", "valid").labels == (0, 0, 1)
    with pytest.raises(InputError, match="label file not found"):
        load_gold(tmp_path / "ok", "valid", "missing.txt")
    with pytest.raises(InputError, match="split folder not found"):
        load_gold(tmp_path / "ok", "test")
    make_image_folder(tmp_path / "count", ["甲", "乙", "丙"], [2, 1])
    (tmp_path / "count" / "label_cn.txt").write_text("甲\n乙\n丙\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"3 class names, but .* has 2 class folders"):
        load_gold(tmp_path / "count", "valid")
    (tmp_path / "count" / "label_cn.txt").write_text("甲\n\n", encoding="utf-8")
    with pytest.raises(InputError) as blank:
        load_gold(tmp_path / "count", "valid")
    assert "label_cn.txt:2: blank line" in str(blank.value)
    make_image_folder(tmp_path / "empty", ["甲", "乙"], [2, 0])
    with pytest.raises(InputError, match=r"without image files .*: 001"):
        load_gold(tmp_path / "empty", "valid")


def test_notes_on_unpadded_numbers_and_repeated_names(tmp_path: Path) -> None:
    names = [f"类{i}" for i in range(11)]
    names[3] = names[7] = "太阳镜"
    make_image_folder(tmp_path, names, [1] * 11)
    for index in range(11):  # rename 000..010 to 0..10: "10" sorts before "2"
        (tmp_path / "valid" / f"{index:03d}").rename(tmp_path / "valid" / str(index))
    gold = load_gold(tmp_path, "valid")
    assert gold.class_folders[:3] == ("0", "1", "10")
    notes = " ".join(gold.notes())
    assert "not 0..n-1 in sorted order" in notes and "太阳镜 (classes 3, 7)" in notes
