"""Intervals of the caption metrics: BLEU recomputed from resampled per-image sufficient
statistics (as sacrebleu's paired bootstrap), CIDEr-D and ROUGE-L as means of per-image
scores (CIDEr-D's idf held at the whole set's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_caption_metrics import random_corpus

from muge_eval.caption import scorers
from muge_eval.caption.scoring import caption_metric_specs, score_captions
from muge_eval.caption.tokenizers import WhitespaceTokenizer
from muge_eval.metrics.bootstrap import analyse_metric, bootstrap_recomputed
from muge_eval.metrics.persample import NoSamples, SampleStatistics, SampleValues, sample_values
from muge_eval.metrics.spec import MetricSpec

INFO = {spec.name: spec.recorded() for spec in caption_metric_specs()}


def scored(seed: int, images: int = 60) -> tuple[dict[str, float], list[dict]]:
    hyps, refs = random_corpus(seed, images, 4)
    refs = [[r for r in rs if r] or ["甲"] for rs in refs]
    ids = [f"img{i:03d}" for i in range(images)]
    result = score_captions(
        ids,
        dict(zip(ids, hyps, strict=True)),
        dict(zip(ids, refs, strict=True)),
        WhitespaceTokenizer(),
        ["bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d"],
    )
    return dict(result.metrics), [dict(s) for s in result.samples]


def test_bleu_is_recomputed_from_the_stored_statistics() -> None:
    metrics, samples = scored(0)
    assert INFO["bleu4"]["recompute"] == {"rule": "bleu", "args": {"order": 4}}
    for order in range(1, 5):
        found = sample_values(INFO[f"bleu{order}"], metrics[f"bleu{order}"], samples, "image_id")
        assert isinstance(found, SampleStatistics), order
        assert found.statistics.shape == (60, 10)
        assert float(found.values_of(found.statistics.sum(axis=0))) == pytest.approx(metrics[f"bleu{order}"])


def test_bleu_draws_equal_pycocoevalcap_on_each_resampled_corpus() -> None:
    metrics, samples = scored(1, images=40)
    found = sample_values(INFO["bleu4"], metrics["bleu4"], samples, "image_id")
    assert isinstance(found, SampleStatistics)
    draws = bootstrap_recomputed([found], 50, 9)[0]
    index = np.random.default_rng(9).integers(0, 40, size=(50, 40))
    stats = [s["bleu_stats"] for s in samples]
    for row, draw in zip(index, draws, strict=True):
        comps = [(stats[i][0], stats[i][1], stats[i][2:6], stats[i][6:10]) for i in row]
        expected = scorers.bleu_from_comps(comps).corpus[3] * 100
        assert draw == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_cider_and_rouge_resample_per_image_scores() -> None:
    metrics, samples = scored(2)
    for name in ("cider_d", "rouge_l"):
        found = sample_values(INFO[name], metrics[name], samples, "image_id")
        assert isinstance(found, SampleValues), name
        assert float(found.values.mean()) == pytest.approx(metrics[name])


def test_paired_bleu_test_between_two_systems() -> None:
    good_metrics, good = scored(3)
    references = {s["image_id"]: s["references"] for s in good}
    # A system that copies the first reference is far better than random captions.
    ids = [s["image_id"] for s in good]
    copied = score_captions(ids, {i: references[i][0] for i in ids}, references, WhitespaceTokenizer(), ["bleu4"])
    samples = {"copy": [dict(s) for s in copied.samples], "random": good}
    reported = {"copy": copied.metrics["bleu4"], "random": good_metrics["bleu4"]}
    result = analyse_metric(INFO["bleu4"], ["copy", "random"], reported, samples, 300, 4, "image_id")
    assert result.lead_not_significant == {"copy": False}
    low, high = result.intervals["copy"]
    assert low <= reported["copy"] <= high
    assert "recomputed" in result.rules["copy"]


def test_bad_statistics_or_unknown_rules_give_reasons() -> None:
    metrics, samples = scored(4, images=10)
    assert isinstance(sample_values(INFO["bleu4"], metrics["bleu4"] + 5, samples), NoSamples)
    unknown = {**INFO["bleu4"], "recompute": {"rule": "chrf", "args": {}}}
    assert "chrf" in sample_values(unknown, metrics["bleu4"], samples).reason  # type: ignore[union-attr]
    short = [{**s, "bleu_stats": s["bleu_stats"][:3]} for s in samples]
    assert isinstance(sample_values(INFO["bleu4"], metrics["bleu4"], short), NoSamples)
    stripped = [{k: v for k, v in s.items() if k != "bleu_stats"} for s in samples]
    assert "bleu_stats" in sample_values(INFO["bleu4"], metrics["bleu4"], stripped).reason  # type: ignore[union-attr]


def test_a_recompute_rule_needs_a_corpus_metric_with_fields() -> None:
    with pytest.raises(ValueError, match="recompute"):
        MetricSpec("x", "x", aggregation="mean", item_fields=("a",), recompute="bleu")
    with pytest.raises(ValueError, match="recompute"):
        MetricSpec("x", "x", aggregation="corpus", recompute="bleu")


def test_the_sample_tasks_run_reports_intervals_for_every_ngram_metric(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from muge_eval.cli.main import main
    from muge_eval.results import read_samples
    from muge_eval.summary import result_rows

    out = tmp_path / "human"
    result = CliRunner().invoke(
        main, ["--quiet", "run", "--task", "muge-caption-sample", "--model", "human", "--log-samples",
               "--output-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    rows = {r.metric: r for r in result_rows(document, read_samples(out / "samples.jsonl"), item_key="image_id")}
    for name in ("cider_d", "bleu4", "rouge_l", "bleu1"):
        assert rows[name].low is not None and rows[name].low <= rows[name].value <= rows[name].high, name
