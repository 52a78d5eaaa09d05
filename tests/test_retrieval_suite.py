"""The Chinese retrieval suite: every card runs through the CLI on a tiny set in its
released format, records its split against the card's pin, and its predictions score
back to the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from released_sets import (
    TINY_SETS,
    coco_cn_5k_fgclip,
    coco_cn_flageval,
    flickr30k_cna_flageval,
    flickr30k_cna_r2d2,
    xtd10,
)

from muge_eval.cli.main import main
from muge_eval.errors import InputError
from muge_eval.plugins import build_registries, resolve_card
from muge_eval.retrieval.released_data import load_released_gold
from muge_eval.retrieval.released_layouts import find_annotation
from muge_eval.retrieval.split_pin import images_sha256
from muge_eval.tasktypes.loading import load_task


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("card", sorted(TINY_SETS))
def test_every_card_runs_on_its_tiny_set(card: str, tmp_path: Path) -> None:
    make, split, texts, images = TINY_SETS[card]
    data = make(tmp_path / "data")
    out = tmp_path / "out"
    code, output = _run(
        "run", "--task", card, "--data-dir", str(data), "--model", "random", "--output-dir", str(out),
        "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert code == 0, output
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["num_items"] == {"queries": texts, "images": images}
    assert {"r1", "i2t_r1", "mean_recall", "i2t_mean_recall"} <= set(results["metrics"])
    split_record = results["protocol"]["split"]
    assert split_record["images"] == images and split_record["texts"] == texts
    pinned = resolve_card(build_registries(), card).options.get("split_pins", {}).get(split)
    assert split_record["matches_pinned"] is (None if pinned is None else False)
    if pinned:  # a tiny set is not the pinned split: the run says so
        assert "is not the card's pinned one" in output
    ids = (out / "ids.tsv").read_text(encoding="utf-8").splitlines()
    assert sum(1 for row in ids if row.startswith("image\t")) == images
    for name, direction in (
        ("predictions.jsonl", "text_to_image"),
        ("predictions_image_to_text.jsonl", "image_to_text"),
    ):
        code, output = _run(
            "score", "--task", card, "--data-dir", str(data), "--predictions", str(out / name),
            "--direction", direction, "--output", str(tmp_path / f"{direction}.json"),
        )  # fmt: skip
        assert code == 0, output
        scored = json.loads((tmp_path / f"{direction}.json").read_text())["metrics"]
        prefix = "" if direction == "text_to_image" else "i2t_"
        assert scored[prefix + "r1"] == results["metrics"][prefix + "r1"]


def _gold(card: str, data: Path, split: str = "test") -> tuple[str, dict[str, int]]:
    task = load_task(build_registries(), card)
    layout, _ = find_annotation(task.card.data.format, data, split, task.settings)
    gold = load_released_gold(task.card.data.format, data, split, task.settings)
    assert gold.relevant is not None
    images: dict[str, int] = {}
    for query in gold.ids:
        for image in gold.relevant[query]:
            images[str(image)] = images.get(str(image), 0) + 1
    return layout.name, images


def test_every_released_layout_is_read(tmp_path: Path) -> None:
    assert _gold("flickr30k-cna-retrieval", flickr30k_cna_r2d2(tmp_path / "r2d2"))[0] == "r2d2"
    assert _gold("flickr30k-cna-retrieval", flickr30k_cna_flageval(tmp_path / "fe"))[0] == "flageval-csv"
    name, csv_images = _gold(
        "coco-cn-5k-retrieval", coco_cn_flageval(tmp_path / "c5", per_image=5, file="coco_captions_cn_test_5k.txt")
    )
    assert name == "flageval-csv"
    name, pair_images = _gold("coco-cn-5k-retrieval", coco_cn_5k_fgclip(tmp_path / "pairs"))
    # Both releases of COCO-CN 5k name the same images by their COCO ids, five texts each.
    assert name == "fgclip-pairs" and csv_images == pair_images and set(pair_images.values()) == {5}
    assert _gold("xtd10-zh-retrieval", xtd10(tmp_path / "xtd"))[0] == "xtd10"


def test_split_checksum_is_over_canonical_image_keys() -> None:
    # COCO file names and Chinese-CLIP's integer ids name the same images.
    names = ["COCO_val2014_000000461245.jpg", "COCO_train2014_000000503310.jpg"]
    assert images_sha256(names) == images_sha256([461245, 503310]) == images_sha256(["503310", "461245", "461245"])
    assert images_sha256(["a/1000092795.jpg"]) == images_sha256([1000092795])


def test_bad_released_files_name_file_line_and_image(tmp_path: Path) -> None:
    data = flickr30k_cna_r2d2(tmp_path / "d")
    (data / "Flickr30k-images" / "1000092795.jpg").unlink()
    code, output = _run("run", "--task", "flickr30k-cna-retrieval", "--data-dir", str(data), "--model", "random",
                        "--output-dir", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    assert code == 1 and "1 image file(s) not found" in output and "1000092795.jpg" in output
    assert "Traceback" not in output and not (tmp_path / "o" / "results.json").exists()
    path = data / "test" / "flickr30k_cna_test.txt"
    path.write_text(path.read_text(encoding="utf-8") + "no tab here\n1#0\t \n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_released_gold("flickr30k-cna", data, "test", {})
    lines = {(p.line, p.field) for p in caught.value.problems}
    assert (61, None) in lines and (62, "caption") in lines
    code, output = _run("run", "--task", "xtd10-zh-retrieval", "--data-dir", str(tmp_path / "nothing"),
                        "--model", "random")  # fmt: skip
    assert code == 1 and "data directory not found" in output
