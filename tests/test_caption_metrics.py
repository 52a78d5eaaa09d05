"""Every caption metric against pycocoevalcap's scorers called directly on the same tokens:
identical, bit for bit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from muge_eval.caption import metrics, scorers
from muge_eval.caption.metrics import MetricValues, join_tokens, score_sentences
from muge_eval.caption.tokenizers import CharTokenizer
from muge_eval.errors import UsageError


def random_corpus(seed: int, images: int, refs: int, vocab_size: int = 60) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    vocab = [chr(0x4E00 + i) for i in range(vocab_size)] + ["iphone", "12", "xl"]

    def sentence(empty_ok: bool = True) -> str:
        length = rng.choice([0, 1, 2, 5, 9, 14, 20]) if empty_ok else rng.randint(1, 20)
        return " ".join(rng.choice(vocab) for _ in range(length))

    hyps = [sentence() for _ in range(images)]
    references = [[sentence(empty_ok=rng.random() < 0.1) for _ in range(rng.randint(1, refs))] for _ in range(images)]
    return hyps, references


def reference_scores(hyps: list[str], refs: list[list[str]]) -> dict[str, tuple[float, list[float]]]:
    gts = {i: list(r) for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_per = Rouge().compute_score(gts, res)
    cider, cider_per = Cider().compute_score(gts, res)
    out = {f"bleu{k + 1}": (bleu[k], list(bleu_per[k])) for k in range(4)}
    out["rouge_l"] = (float(rouge), list(rouge_per))
    out["cider_d"] = (float(cider), list(cider_per))
    return out


def assert_matches(ours: MetricValues, expected: dict[str, tuple[float, list[float]]]) -> None:
    for name, (corpus, per_image) in expected.items():
        assert ours.corpus[name] == float(corpus), name
        assert list(ours.per_image[name]) == [float(v) for v in per_image], name


@pytest.mark.parametrize(("seed", "images", "refs"), [(0, 50, 5), (1, 200, 10), (2, 3, 3), (3, 120, 1)])
def test_all_metrics_match_pycocoevalcap(seed: int, images: int, refs: int) -> None:
    hyps, references = random_corpus(seed, images, refs)
    assert_matches(score_sentences(hyps, references), reference_scores(hyps, references))


def test_separate_metric_functions_match_combined() -> None:
    hyps, references = random_corpus(7, 40, 6)
    combined = score_sentences(hyps, references)
    for part in (metrics.bleu(hyps, references), metrics.rouge_l(hyps, references), metrics.cider_d(hyps, references)):
        for name, value in part.corpus.items():
            assert value == combined.corpus[name]
            assert part.per_image[name] == combined.per_image[name]


def test_real_chinese_captions_through_char_tokens() -> None:
    tokenizer = CharTokenizer()
    hyps = ["红色连衣裙，简约百搭", "iPhone 12 手机壳", "", "蓝色T恤"]
    refs = [
        ["这款红色连衣裙简约大方", "简约百搭的红色裙子", "红色连衣裙"],
        ["iphone12手机壳，防摔", "苹果12手机保护壳"],
        ["黑色帽子", "时尚黑色帽子"],
        ["蓝色纯棉T恤", "T恤 蓝色 宽松", "夏季蓝色短袖"],
    ]
    hyp_s = [join_tokens(tokenizer.tokenize(h)) for h in hyps]
    ref_s = [[join_tokens(tokenizer.tokenize(r)) for r in rs] for rs in refs]
    ours = score_sentences(hyp_s, ref_s)
    assert_matches(ours, reference_scores(hyp_s, ref_s))
    assert ours.per_image["cider_d"][2] == 0.0  # the empty caption scores zero, and is kept


def test_single_image_cider_is_zero() -> None:
    ours = score_sentences(["红 色 裙"], [["红 色 裙", "红 色 的 裙"]])
    assert ours.corpus["cider_d"] == 0.0  # df = 1 for every n-gram: idf is 0


def test_identical_caption_scores() -> None:
    hyps = ["红 色 连 衣 裙", "蓝 色 帽 子"]
    refs = [["红 色 连 衣 裙"], ["蓝 色 帽 子"]]
    ours = score_sentences(hyps, refs)
    assert ours.corpus["bleu4"] == pytest.approx(1.0, abs=1e-6)
    assert ours.corpus["rouge_l"] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from("ab甲乙丙x"), max_size=12),
            st.lists(st.lists(st.sampled_from("ab甲乙丙y"), min_size=1, max_size=12), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_vectorised_scores_are_bit_identical_on_any_corpus(images: list[tuple[list[str], list[list[str]]]]) -> None:
    # Repeated n-grams, empty sentences, ties in reference length, one image or several.
    hyps = [" ".join(h) for h, _ in images]
    refs = [[" ".join(r) for r in rs] for _, rs in images]
    assert_matches(score_sentences(hyps, refs), reference_scores(hyps, refs))


def test_bleu_statistics_are_the_sufficient_statistics() -> None:
    stats = metrics.bleu_statistics_of(["a b a c", ""], [["a a b", "a b a c d e"], ["x"]])
    # [hyp length, closest reference length, guesses 1..4, clipped matches 1..4]
    assert stats == [[4, 3, 4, 3, 2, 1, 4, 3, 2, 1], [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("abcde"), max_size=30),
    st.lists(st.sampled_from("abcdef"), max_size=30),
)
def test_bit_parallel_lcs_matches_dynamic_programming(a: list[str], b: list[str]) -> None:
    from pycocoevalcap.rouge.rouge import my_lcs

    assert scorers.lcs_length(a, b) == my_lcs(a, b)
    assert scorers.lcs_length(b, a) == my_lcs(a, b)


def test_metric_selection_and_errors() -> None:
    ours = score_sentences(["a b"], [["a b"]], ["rouge_l"])
    assert list(ours.corpus) == ["rouge_l"]
    with pytest.raises(UsageError, match="unknown caption metric"):
        score_sentences(["a"], [["a"]], ["cider"])
    with pytest.raises(ValueError, match="no references"):
        score_sentences(["a"], [[]])


def test_meteor_without_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="java"):
        score_sentences(["红 色"], [["红 色"]], ["cider_d", "meteor"])


@pytest.mark.skipif(not metrics.java_available(), reason="java is not installed")
def test_meteor_is_a_character_match_score_on_chinese() -> None:
    # One java start (about 20 s): an exact copy scores near 1, disjoint characters 0,
    # and a hypothesis sharing most characters scores in between.
    hyps = ["红 色 连 衣 裙", "蓝 色 帽 子", "黑 色 手 提 包"]
    refs = [["红 色 连 衣 裙", "红 裙"], ["白 鞋"], ["黑 色 的 手 提 包"]]
    ours = metrics.meteor(hyps, refs)
    per_image = ours.per_image["meteor"]
    assert per_image[0] > 0.9
    assert per_image[1] == 0.0
    assert 0.3 < per_image[2] < per_image[0]
    assert 0.0 < ours.corpus["meteor"] < 1.0


def test_rouge_in_worker_processes_gives_the_same_values() -> None:
    hyps, references = random_corpus(11, 300, 5)
    alone = score_sentences(hyps, references, workers=0)
    spread = score_sentences(hyps, references, workers=2)
    assert spread == alone
