"""Galleries: which items are chosen, what each task type's hook shows, thumbnails and
their budget; absolute paths cut from published copies."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from board_helpers import png_bytes, retrieval_samples, write_image_tsv
from PIL import Image

from muge_eval.leaderboard.gallery.hooks import (
    CaptionGallery,
    GalleryHook,
    RetrievalGallery,
    T2IGallery,
    gallery_hook,
)
from muge_eval.leaderboard.gallery.images import ThumbnailStore, read_data_images, thumbnail
from muge_eval.leaderboard.gallery.model import FROM_RUN
from muge_eval.leaderboard.gallery.select import BEST, SEEDED, WORST, ItemScores, choose, item_scores
from muge_eval.leaderboard.paths import scrub, scrub_text
from muge_eval.retrieval.task import RetrievalTask

MEAN_RECALL = {s.name: s.recorded() for s in RetrievalTask.metric_specs()}


def test_seeded_items_are_the_same_for_every_model_of_a_task() -> None:
    first = retrieval_samples([0, 1, 2, 3] * 25, seed=1)
    second = list(reversed(retrieval_samples([3, 2, 1, 0] * 25, seed=2)))  # same items, other order
    picks = []
    for samples in (first, second):
        chosen = choose(samples, None, "query_id", seed=11, seeded=6, extremes=0)
        picks.append([samples[c.index]["query_id"] for c in chosen])
    assert picks[0] == picks[1] and len(picks[0]) == 6 and picks[0] == sorted(picks[0])
    assert choose(first, None, "query_id", seed=12, seeded=6, extremes=0) != choose(
        first, None, "query_id", seed=11, seeded=6, extremes=0
    )


def test_worst_and_best_come_from_the_per_item_main_metric() -> None:
    samples = retrieval_samples([3, 0, 3, 1, 0, 2, 3, 0], seed=1)
    scores = item_scores(MEAN_RECALL, ["mean_recall"], samples)
    assert scores is not None and scores.metric == "mean_recall"
    # (hit1 + hit5 + hit10) / 3 x 100 per query
    assert scores.values == pytest.approx([0, 100, 0, 200 / 3, 100, 100 / 3, 0, 100])
    chosen = choose(samples, scores, "query_id", seed=3, seeded=0, extremes=2)
    assert [(c.index, c.why) for c in chosen] == [(0, (WORST,)), (2, (WORST,)), (1, (BEST,)), (4, (BEST,))]
    lower_better = ItemScores("x", (5.0, 1.0, 3.0), higher_is_better=False)
    picked = choose(samples[:3], lower_better, "query_id", seed=3, seeded=0, extremes=1)
    assert [(c.index, c.why) for c in picked] == [(0, (WORST,)), (1, (BEST,))]


def test_a_seeded_item_among_the_extremes_says_both() -> None:
    samples = retrieval_samples([3] * 3, seed=1)
    chosen = choose(samples, item_scores(MEAN_RECALL, ["mean_recall"], samples), "query_id", 5, 3, 1)
    assert len(chosen) == 3 and all(c.why[0] == SEEDED for c in chosen)
    assert sum(WORST in c.why for c in chosen) == 1 and sum(BEST in c.why for c in chosen) == 1


def test_a_corpus_metric_ranks_items_by_its_per_item_field_when_there_is_one() -> None:
    infos = {"cider_d": {"aggregation": "corpus", "higher_is_better": True}, "bleu4": {"aggregation": "corpus"}}
    samples = [{"image_id": "a", "cider_d": 10.0}, {"image_id": "b", "cider_d": 30.0}]
    scores = item_scores(infos, ["bleu4", "cider_d"], samples)
    assert scores is not None and scores.metric == "cider_d" and scores.values == (10.0, 30.0)
    assert item_scores({"fid": {"aggregation": "set"}}, ["fid"], samples) is None


def test_retrieval_marks_the_relevant_images_of_the_top_5() -> None:
    sample = {"query_id": 7, "query_text": "红色连衣裙", "predicted": [5, 9, 2, 8, 1, 3], "relevant": [2, 3]}
    view = RetrievalGallery().view(sample, "query_id")
    assert [(p.image_id, p.marked) for p in view.pictures] == [
        ("5", False),
        ("9", False),
        ("2", True),
        ("8", False),
        ("1", False),
    ]
    assert view.texts[0].lines == ("红色连衣裙",) and ("first relevant rank", "3") in view.fields
    missed = RetrievalGallery().view({**sample, "relevant": [4]}, "query_id")
    assert missed.pictures[-1].role == "relevant, not in the top 5" and missed.pictures[-1].image_id == "4"
    i2t = RetrievalGallery().view({**sample, "direction": "image_to_text"}, "query_id")
    assert [p.role for p in i2t.pictures] == ["query image"] and i2t.texts[0].lines[2] == "✓ #3 · 2"


def test_caption_and_t2i_views() -> None:
    caption = CaptionGallery().view({"image_id": "ab", "caption": "一款包", "references": ["a", "b"]}, "image_id")
    assert [b.lines for b in caption.texts] == [("一款包",), ("a", "b")] and caption.pictures[0].image_id == "ab"
    t2i = T2IGallery().view({"img_id": "9", "description": "红色帽子"}, "img_id")
    assert [(p.role, p.origin) for p in t2i.pictures] == [("generated", FROM_RUN), ("real image", "data")]


def test_a_type_without_a_hook_lists_its_records_generically() -> None:
    hook = gallery_hook("classification")
    assert type(hook) is GalleryHook
    record = {"image_id": "img-3", "predicted": ["猫", "狗"], "top1": False, "top5": True, "logits": list(range(400))}
    view = hook.view(record, "image_id")
    assert view.title == "img-3" and view.pictures[0].image_id == "img-3"
    fields = dict(view.fields)
    assert fields["predicted"] == '["猫", "狗"]' and fields["top5"] == "true" and fields["logits"].endswith("…")
    assert isinstance(gallery_hook("retrieval"), RetrievalGallery)


def test_data_images_are_found_by_id_in_tsvs_and_files(tmp_path: Path) -> None:
    write_image_tsv(tmp_path / "MR_valid_imgs.tsv", [1, 2, 3])
    (tmp_path / "MR_valid_queries.jsonl").write_text('{"query_id": 1}\n', encoding="utf-8")
    (tmp_path / "texts.tsv").write_text("1\tnot base64 at all!\n", encoding="utf-8")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "x7.png").write_bytes(png_bytes("x7"))
    found = read_data_images(tmp_path, "valid", {"2", "3", "x7", "missing", "../MR_valid_imgs"})
    assert sorted(found) == ["2", "3", "x7"] and found["2"] == png_bytes("2")
    assert read_data_images(None, "valid", {"2"}) == {}


def test_thumbnails_are_small_jpegs_within_the_budget(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((800, 600), 90).convert("RGB").save(buffer, format="PNG")
    small = thumbnail(buffer.getvalue(), 96)
    assert small is not None
    data, width, height = small
    assert (width, height) == (96, 72) and len(data) <= 16_000 and data[:2] == b"\xff\xd8"
    assert thumbnail(b"not an image", 96) is None
    store = ThumbnailStore(tmp_path, 96, budget=len(data) + 10)
    first = store.place("task", "a", buffer.getvalue())
    assert first is not None and (tmp_path / first.src).is_file()
    assert store.place("task", "a", buffer.getvalue()) == first and store.written == 1
    assert store.place("task", "b", buffer.getvalue()) is None and store.refused == 1
    assert store.place("task", "c", None) is None and store.used == len(data)


def test_absolute_paths_are_cut_to_their_last_component() -> None:
    assert scrub_text("local:/home/alice/data/MUGE") == "local:…/MUGE"
    assert scrub_text("weights in /root/.cache/w/pt.pth, /tmp/b/pt.pth.") == "weights in …/pt.pth, …/pt.pth."
    assert scrub_text(r"C:\Users\alice\ckpt\model.pt and \\host\share\x.pt") == "…/model.pt and …/x.pt"
    assert scrub_text("file:///home/alice/x.png") == "file://…/x.png"
    for kept in ("https://example.com/a/b/c", "Bleu(4)/Rouge()/Cider()", "(hit1 + hit5) / 3", "a/b/c", "/x"):
        assert scrub_text(kept) == kept
    assert scrub({"a": ["/home/alice/x/y", 3, None], "/srv/k/v": True}) == {"a": ["…/y", 3, None], "…/v": True}
