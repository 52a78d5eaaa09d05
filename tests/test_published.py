"""The registry of published results: its data checks out against the task cards, its
loader names every problem by entry, and `published`, `compare` and `regress
--expected published:ID` work on a tiny model's run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from models_fixtures import build_hf_chinese_clip
from parity_helpers import make_chinese_clip_split

from muge_eval.cli.main import main
from muge_eval.errors import InputError, UsageError
from muge_eval.plugins import build_registries, resolve_card
from muge_eval.published import find_published, load_published
from muge_eval.published.compare import compare_to_published

CN_CLIP_B16_FLICKR = "chinese-clip-results/cn-clip-vit-b-16/flickr30k-cn/test/t2i/zero-shot"


def test_every_entry_names_a_card_split_and_a_citable_source() -> None:
    entries = load_published()
    assert len(entries) >= 200 and len({e.id for e in entries}) == len(entries)
    registries = build_registries()
    for entry in entries:
        card = resolve_card(registries, entry.task)
        assert entry.split in card.splits, entry.id
        source = entry.source
        assert source.kind != "repository-file" or (
            source.repository and source.path and len(source.commit or "") == 40
        )
        pinned = card.options.get("split_pins", {}).get(entry.split)
        stated = entry.protocol.get("split", {})
        if pinned and stated.get("images_sha256"):  # a stated split checksum is the card's pin, or not silently
            same = stated["images_sha256"] == pinned["images_sha256"] and stated.get("texts") == pinned.get("texts")
            assert same or entry.task == "xtd10-zh-retrieval", entry.id
    families = {e.model.family for e in entries}
    assert {"chinese-clip", "qa-clip", "altclip", "taiyi-clip", "r2d2", "ernie-vil2", "wukong"} <= families
    assert {e.source.key for e in entries if e.source.measured_by == "independent"} >= {"flageval-clipeval"}


def test_spot_values_are_the_sources() -> None:
    # The example: FlagEval's CN-CLIP ViT-L/14@336px, against Chinese-CLIP's own 69.0.
    flageval = find_published("flageval-clipeval/cn-clip-vit-l-14-336/flickr30k-cna/test/t2i/zero-shot")
    assert flageval.metrics["r1"] == 67.96 and flageval.decimals == 2
    own = find_published("chinese-clip-results/cn-clip-vit-l-14-336/flickr30k-cn/test/t2i/zero-shot")
    assert own.metrics == {"r1": 69.0, "r5": 90.7, "r10": 95.4}
    # FlagEval's "flickr30k_cn" is Flickr30k-CNA: a different data set, recorded as such.
    assert flageval.task == "flickr30k-cna-retrieval" and flageval.protocol["text_preprocess"] == "none"
    muge = find_published("chinese-clip-results/cn-clip-vit-h-14/muge/valid/t2i/fine-tuned")
    assert muge.metrics == {"r1": 68.9, "r5": 88.7, "r10": 93.1, "mean_recall": 83.6}
    assert muge.results_metrics() == {"r1": 68.9, "r5": 88.7, "r10": 93.1, "mean_recall": 83.6}
    ernie = find_published("ernie-vil2-readme/ernie-vil2-base-vit/coco-cn/test/both/zero-shot")
    assert ernie.results_metrics()["both_mean_recall"] == 84.28 and ernie.tolerance == 0.005
    with pytest.raises(UsageError, match=r"close: .*cn-clip-vit-b-16"):
        find_published("chinese-clip-results/cn-clip-vit-b-16/flickr30k-cn/test/t2i")


def test_loader_names_every_problem_by_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
sources:
  s1: {title: T, kind: repository-file, measured_by: authors, repository: a/b, path: README.md}
  Bad_Key: {title: T, kind: paper, measured_by: someone}
models:
  m1: {name: M, family: f, resolution: -3}
groups:
  - source: s1
    table: t
    task: muge-retrieval
    split: valid
    direction: sideways
    setting: zero-shot
    rows:
      - {model: m1, r1: 50, r5: 40, r10: 60}
      - {model: m2, r1: 101}
      - {model: m1, colour: red}
""",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_published([bad])
    found = {(p.field, p.message.split(",")[0].split(" (")[0]) for p in caught.value.problems}
    fields = {field for field, _ in found}
    assert "sources.s1" in fields  # a repository file without its commit
    assert "sources.Bad_Key" in fields and "models.m1.resolution" in fields
    assert "groups[0].rows[0] (m1).direction" in fields
    assert "groups[0].rows[0] (m1)" in fields  # R@1 <= R@5 <= R@10 broken
    assert "groups[0].rows[1] (m2).model" in fields and "groups[0].rows[1] (m2).r1" in fields
    assert "groups[0].rows[2].colour" in fields and all(p.line is None for p in caught.value.problems)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ChineseCLIPModel's run on a tiny Flickr30K-CN test split."""
    root = tmp_path_factory.mktemp("published")
    model = build_hf_chinese_clip(root / "ckpt", image_size=32)
    data = make_chinese_clip_split(root / "data", n_images=12, seed=5)
    out = root / "out"
    result = CliRunner().invoke(
        main,
        ["--quiet", "run", "--task", "flickr30k-cn-retrieval", "--data-dir", str(data), "--model", "hf-chinese-clip",
         "--model-args", f"model={model},device=cpu,text_preprocess=none", "--output-dir", str(out),
         "--cache-dir", str(root / "cache"), "--num-workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / "results.json"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_compare_prints_the_table_and_every_protocol_difference(tiny_run: Path) -> None:
    result = _cli("compare", str(tiny_run), "--published", CN_CLIP_B16_FLICKR)
    assert result.exit_code == 1, result.output  # a random model misses the published numbers
    out = result.output
    assert "metric" in out and "measured" in out and "published" in out and "difference" in out
    assert "62.70" in out and "r10" in out and "below" in out and "MISSED" in out
    assert "resolution: this run 32, published 224" in out
    assert "text_preprocess: this run none, published chinese-clip" in out
    assert "split: published on the test split of Chinese-CLIP's Flickr30k-CN.zip; this run: 12 images" in out
    # Every entry on the run's task and split when no id is given, filtered by model.
    result = _cli("compare", str(tiny_run), "--model", "qa-clip-vit-b-16")
    assert result.exit_code == 1 and result.output.count("published: qa-clip-readme/qa-clip-vit-b-16") == 2
    # Another data set is never compared silently.
    other = "flageval-clipeval/cn-clip-vit-l-14/flickr30k-cna/test/t2i/zero-shot"
    result = _cli("compare", str(tiny_run), "--published", other)
    assert result.exit_code == 3 and "NOT COMPARABLE: published on flickr30k-cna-retrieval test" in result.output
    result = _cli("compare", str(tiny_run), "--published", "no/such/entry")
    assert result.exit_code == 2 and "no published result" in result.output


def test_compare_verdict_follows_the_tolerance(tiny_run: Path) -> None:
    results = json.loads(tiny_run.read_text())
    entry = find_published(CN_CLIP_B16_FLICKR)
    measured = results["metrics"]["r1"]
    exact = compare_to_published(results | {"metrics": {**results["metrics"], "r1": 62.74}}, entry)
    assert exact.rows[0].verdict == "match"  # within the 0.05 rounding of 62.7
    assert compare_to_published(results, entry, default_tolerance=100.0).verdict == "REPRODUCED"
    assert compare_to_published(results, entry, tolerances={"r1": 100.0}).rows[0].verdict == "match"
    assert compare_to_published(results, entry).rows[0].difference == pytest.approx(measured - 62.7)


def test_regress_fails_a_run_that_misses_a_published_number(tiny_run: Path) -> None:
    result = _cli("regress", "--expected", f"published:{CN_CLIP_B16_FLICKR}", "--actual", str(tiny_run))
    assert result.exit_code == 1 and "REGRESSED" in result.output and "golden: published result" in result.output
    result = _cli("regress", "--expected", f"published:{CN_CLIP_B16_FLICKR}", "--actual", str(tiny_run),
                  "--tolerance", "100")  # fmt: skip
    assert result.exit_code == 0, result.output
    other = "published:chinese-clip-results/cn-clip-vit-b-16/muge/valid/t2i/zero-shot"
    result = _cli("regress", "--expected", other, "--actual", str(tiny_run))
    assert result.exit_code == 3 and "NOT COMPARABLE" in result.output
    both = "published:altclip-readme/altclip/flickr30k-cn/test/both/zero-shot"
    result = _cli("regress", "--expected", both, "--actual", str(tiny_run))
    assert result.exit_code == 1 and "both_mean_recall" in result.output


def test_published_lists_and_filters() -> None:
    result = _cli("published", "--task", "muge", "--model", "qa-clip")
    assert result.exit_code == 0 and "qa-clip-readme/qa-clip-rn50/muge/valid/t2i/zero-shot" in result.output
    assert "TencentARC-QQ/QA-CLIP/README.md@4630ea810be6" in result.output and "r1=44.0" in result.output
    listed = json.loads(_cli("published", "--source", "flageval-clipeval", "--format", "json").output)
    assert len(listed) == 48 and listed[0]["source"]["commit"].startswith("0f0703727605")
