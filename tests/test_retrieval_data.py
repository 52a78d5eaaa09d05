"""Loading retrieval data: both file layouts, saved `datasets` directories, hub-style
repositories, and clear errors for corrupt inputs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from retrieval_helpers import jpeg_bytes, make_split, write_images_tsv, write_jsonl

from muge_eval.cards import load_card
from muge_eval.errors import InputError, UsageError
from muge_eval.progress import Progress
from muge_eval.retrieval.data import load_retrieval_data


def card_file(tmp_path: Path, source: str = "local", location: str | None = None, data_format: str = "muge-mr") -> Path:
    doc = {
        "name": "tiny",
        "type": "retrieval",
        "data": {"format": data_format, "source": source, **({"location": location} if location else {})},
        "splits": ["valid", "test"],
        "metrics": ["r1", "mean_recall"],
        "main_metric": "mean_recall",
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("layout", ["muge", "chinese-clip"])
def test_both_layouts_load(tmp_path: Path, layout: str) -> None:
    image_ids, queries = make_split(tmp_path / "data", layout)
    card = load_card(card_file(tmp_path))
    data = load_retrieval_data(card, "valid", tmp_path / "data", tmp_path / "cache")
    assert data.image_ids == tuple(image_ids)
    assert data.gold.ids == tuple(q.get("query_id", q.get("text_id")) for q in queries)
    assert data.info.num_items == {"queries": len(queries), "images": len(image_ids)}
    assert data.info.fingerprint.startswith("sha256:")
    assert data.info.format.endswith(layout)
    image = data.images[0]["image"]
    assert image.size == (16, 16)


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    make_split(tmp_path / "a", seed=1)
    make_split(tmp_path / "b", seed=2)
    card = load_card(card_file(tmp_path))
    fa = load_retrieval_data(card, "valid", tmp_path / "a", tmp_path / "cache").info.fingerprint
    fb = load_retrieval_data(card, "valid", tmp_path / "b", tmp_path / "cache").info.fingerprint
    assert fa != fb


def test_missing_split_names_the_expected_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    card = load_card(card_file(tmp_path))
    with pytest.raises(InputError, match=r"MR_valid_imgs\.tsv"):
        load_retrieval_data(card, "valid", tmp_path / "data", None)


def test_no_data_dir_is_a_usage_error(tmp_path: Path) -> None:
    card = load_card(card_file(tmp_path))
    with pytest.raises(UsageError, match="--data-dir"):
        load_retrieval_data(card, "valid", None, None)


def test_bad_base64_and_bad_id_are_reported_with_lines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_split(data)
    tsv = data / "MR_valid_imgs.tsv"
    lines = tsv.read_text().splitlines()
    lines[2] = lines[2].split("\t")[0] + "\t@@@not base64@@@"
    lines[4] = "abc\t" + lines[4].split("\t")[1]
    tsv.write_text("\n".join(lines) + "\n")
    card = load_card(card_file(tmp_path))
    with pytest.raises(InputError) as info:
        load_retrieval_data(card, "valid", data, tmp_path / "cache")
    text = info.value.format()
    assert "MR_valid_imgs.tsv:3: image: not valid base64" in text
    assert "MR_valid_imgs.tsv:5: id: bad image id 'abc'" in text


def test_urlsafe_base64_is_accepted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_split(data)
    write_images_tsv(data / "MR_valid_imgs.tsv", range(1, 31), urlsafe=True)
    card = load_card(card_file(tmp_path))
    loaded = load_retrieval_data(card, "valid", data, tmp_path / "cache")
    assert loaded.images[5]["image"].mode == "RGB"


def test_test_split_without_answers_loads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_images_tsv(data / "MR_test_imgs.tsv", range(1, 21))
    write_jsonl(data / "MR_test_queries.jsonl", [{"query_id": 1, "query_text": "包"}])
    card = load_card(card_file(tmp_path))
    loaded = load_retrieval_data(card, "test", data, tmp_path / "cache")
    assert not loaded.gold.has_answers


def _tables(tmp_path: Path) -> tuple[object, object]:
    import datasets

    images = datasets.Dataset.from_dict(
        {"image_id": [1, 2, 3], "image": [{"bytes": jpeg_bytes((i * 40, 0, 0)), "path": None} for i in range(3)]},
        features=datasets.Features({"image_id": datasets.Value("int64"), "image": datasets.Image()}),
    )
    texts = datasets.Dataset.from_dict({"text_id": [7, 8], "text": ["红", "黑"], "image_ids": [[1], [2, 3]]})
    return images, texts


def test_saved_datasets_directory(tmp_path: Path) -> None:
    import datasets

    images, texts = _tables(tmp_path)
    datasets.DatasetDict({"valid": images}).save_to_disk(str(tmp_path / "saved" / "images"))  # type: ignore[dict-item]
    datasets.DatasetDict({"valid": texts}).save_to_disk(str(tmp_path / "saved" / "texts"))  # type: ignore[dict-item]
    card = load_card(card_file(tmp_path, "saved", "saved"))
    loaded = load_retrieval_data(card, "valid", None, None)
    assert loaded.image_ids == (1, 2, 3)
    assert loaded.gold.relevant == {7: frozenset({1}), 8: frozenset({2, 3})}
    assert loaded.info.source.startswith("saved:")


def test_hub_style_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub code path (`datasets.load_dataset(id, config, split=...)`) on a local
    repository laid out as on the hub, since no hub is reachable here."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    images, texts = _tables(tmp_path)
    repo = tmp_path / "repo"
    (repo / "images").mkdir(parents=True)
    (repo / "texts").mkdir()
    images.to_parquet(str(repo / "images" / "valid.parquet"))  # type: ignore[attr-defined]
    texts.to_parquet(str(repo / "texts" / "valid.parquet"))  # type: ignore[attr-defined]
    (repo / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: images\n  data_files:\n  - split: valid\n    path: images/valid.parquet\n"
        "- config_name: texts\n  data_files:\n  - split: valid\n    path: texts/valid.parquet\n---\n",
        encoding="utf-8",
    )
    card = load_card(card_file(tmp_path, "hub", str(repo)))
    loaded = load_retrieval_data(card, "valid", None, None)
    assert loaded.image_ids == (1, 2, 3)
    assert loaded.gold.texts == {7: "红", 8: "黑"}
    assert loaded.info.source == f"hub:{repo}"


def test_corrupt_image_is_named_with_its_line(tmp_path: Path) -> None:
    from muge_eval.retrieval.adapters.random_baseline import RandomRetrieval
    from muge_eval.retrieval.task import RetrievalTask
    from muge_eval.specs import RunConfig

    data = tmp_path / "data"
    make_split(data)
    tsv = data / "MR_valid_imgs.tsv"
    lines = tsv.read_text().splitlines()
    lines[6] = lines[6].split("\t")[0] + "\t" + base64.b64encode(b"\xff\xd8 this is not a jpeg").decode()
    tsv.write_text("\n".join(lines) + "\n")

    class PixelModel(RandomRetrieval):
        def encode_image_batch(self, batch):  # type: ignore[no-untyped-def]
            return self.encode_images(batch.images())

    task = RetrievalTask(load_card(card_file(tmp_path)))
    with pytest.raises(InputError, match=r"MR_valid_imgs.tsv:7: image: cannot decode image"):
        task.evaluate(PixelModel(), RunConfig(split="valid", data_dir=data, cache_dir=tmp_path / "c"), _quiet())


def _quiet() -> Progress:
    return Progress(quiet=True)
