"""Per-sample mapping of metrics, bootstrap intervals and paired tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from board_helpers import retrieval_metrics, retrieval_samples

from muge_eval.caption.task import CaptionTask
from muge_eval.metrics.bootstrap import analyse_metric, bootstrap_means, percentile_interval
from muge_eval.metrics.persample import NoSamples, SampleValues, sample_values
from muge_eval.metrics.spec import MetricSpec
from muge_eval.retrieval.task import RetrievalTask
from muge_eval.t2i.task import T2ITask

TYPES = {"retrieval": RetrievalTask, "caption": CaptionTask, "t2i": T2ITask}


def info(task_type: str, metric: str) -> dict:
    """The metric_info entry a results file of this type records for ``metric``."""
    return next(s for s in TYPES[task_type].metric_specs() if s.name == metric).recorded()


def test_bootstrap_means_match_a_direct_computation() -> None:
    values = np.random.default_rng(3).random(37)
    draws = bootstrap_means(values[None, :], 500, 11)[0]
    index = np.random.default_rng(11).integers(0, 37, size=(500, 37))
    reference = [float(np.mean([values[i] for i in row])) for row in index]
    assert np.allclose(draws, reference, rtol=0, atol=1e-12)


def test_interval_of_a_proportion_is_close_to_the_normal_approximation() -> None:
    rng = np.random.default_rng(5)
    values = (rng.random(4000) < 0.3).astype(float)
    low, high = percentile_interval(bootstrap_means(values[None, :], 2000, 1)[0])
    p = values.mean()
    half = 1.96 * math.sqrt(p * (1 - p) / len(values))
    assert low == pytest.approx(p - half, abs=0.004)
    assert high == pytest.approx(p + half, abs=0.004)


def test_retrieval_metrics_map_to_hits_and_reproduce_the_reported_values() -> None:
    samples = retrieval_samples([0, 1, 2, 3, 3, 0, 1], seed=1)
    metrics = retrieval_metrics(samples)
    for name, value in metrics.items():
        found = sample_values(info("retrieval", name), value, samples)
        assert isinstance(found, SampleValues), name
        assert found.scale == 100.0
        assert float(found.values.mean()) * 100 == pytest.approx(value)
    mean_recall = sample_values(info("retrieval", "mean_recall"), metrics["mean_recall"], samples)
    assert isinstance(mean_recall, SampleValues)
    # query 1 hits at 5 and 10 but not at 1: (0 + 1 + 1) / 3
    assert mean_recall.values[1] == pytest.approx(2 / 3)
    assert "(hit1 + hit5 + hit10) / 3" in mean_recall.rule


def test_image_to_text_metrics_use_the_image_to_text_samples() -> None:
    t2i = retrieval_samples([0, 0, 0, 0])
    i2t = [{**s, "direction": "image_to_text", "hit1": False} for s in retrieval_samples([3, 3, 3, 0])]
    found = sample_values(info("retrieval", "i2t_r1"), 0.0, t2i + i2t)
    assert isinstance(found, SampleValues) and len(found.values) == 4
    assert isinstance(sample_values(info("retrieval", "r1"), 100.0, t2i + i2t), SampleValues)


@pytest.mark.parametrize(("task_type", "metric"), [("caption", "meteor"), ("t2i", "fid"), ("t2i", "is_mean")])
def test_set_level_metrics_have_no_interval_and_say_why(task_type: str, metric: str) -> None:
    samples = [{"image_id": "a", metric: 1.0}, {"image_id": "b", metric: 3.0}]
    found = sample_values(info(task_type, metric), 2.0, samples)
    assert isinstance(found, NoSamples) and found.reason == info(task_type, metric)["no_interval"]


def test_a_results_file_without_aggregation_gets_no_interval() -> None:
    samples = [{"image_id": "a", "x": 1.0}, {"image_id": "b", "x": 3.0}]
    found = sample_values({"higher_is_better": True, "unit": "score"}, 2.0, samples)
    assert isinstance(found, NoSamples) and "aggregates" in found.reason


def test_the_spec_names_the_per_item_field_and_scale() -> None:
    samples = [{"image_id": "a", "rouge_l": 50.0}, {"image_id": "b", "rouge_l": 70.0}]
    found = sample_values(info("caption", "rouge_l"), 60.0, samples, "image_id")
    assert isinstance(found, SampleValues) and found.scale == 1.0 and found.keys == ("a", "b")
    nested = [{"img_id": "a", "scores": {"clip_score": 30.0}}, {"img_id": "b", "scores": {"clip_score": 20.0}}]
    found = sample_values(info("t2i", "clip_score"), 25.0, nested)
    assert isinstance(found, SampleValues) and found.scale == 1.0


def test_r_precision_reads_the_hit_field_t2i_writes() -> None:
    samples = [{"img_id": str(i), "clip_score": 1.0, "r_precision_hit": i % 4 == 0} for i in range(40)]
    found = sample_values(info("t2i", "r_precision"), 25.0, samples, "img_id")
    assert isinstance(found, SampleValues) and found.scale == 100.0 and len(found.values) == 40


def test_a_plugin_metric_is_described_by_its_own_spec() -> None:
    spec = MetricSpec("length", "caption length", False, "count", item_fn=lambda s: float(len(s["caption"])))
    samples = [{"image_id": "a", "length": 2.0}, {"image_id": "b", "length": 4.0}]
    found = sample_values(spec.recorded(), 3.0, samples)
    assert isinstance(found, SampleValues) and found.rule == "mean over items of length"


def test_samples_that_do_not_reproduce_the_metric_give_no_interval() -> None:
    samples = retrieval_samples([0, 1, 2, 3])
    found = sample_values(info("retrieval", "r1"), 99.0, samples)
    assert isinstance(found, NoSamples) and "do not reproduce" in found.reason
    missing = sample_values(info("caption", "rouge_l"), 50.0, [{"image_id": "a"}])
    assert isinstance(missing, NoSamples) and "rouge_l" in missing.reason
    assert isinstance(sample_values(info("retrieval", "r1"), 25.0, None), NoSamples)


def test_paired_test_marks_noise_and_not_a_real_lead() -> None:
    strong = retrieval_samples([0] * 150 + [3] * 50, seed=1)
    weak = retrieval_samples([0] * 50 + [3] * 150, seed=1)
    almost = retrieval_samples([0] * 149 + [3] * 51, seed=1)
    samples = {"strong": strong, "almost": almost, "weak": weak}
    reported = {k: retrieval_metrics(v)["r1"] for k, v in samples.items()}
    result = analyse_metric(info("retrieval", "r1"), ["strong", "almost", "weak"], reported, samples, 1000, 4)
    assert result.lead_not_significant == {"strong": True, "almost": False}
    low, high = result.intervals["strong"]
    assert low < 75.0 < high
    # Rerunning gives the same numbers: the seed is fixed.
    again = analyse_metric(info("retrieval", "r1"), ["strong", "almost", "weak"], reported, samples, 1000, 4)
    assert again.intervals == result.intervals


def test_no_paired_test_when_the_items_differ() -> None:
    first = retrieval_samples([0] * 20)
    second = [{**s, "query_id": s["query_id"] + 1} for s in retrieval_samples([3] * 20)]
    samples = {"a": first, "b": second}
    reported = {"a": 100.0, "b": 0.0}
    result = analyse_metric(info("retrieval", "r1"), ["a", "b"], reported, samples, 200, 1)
    assert set(result.intervals) == {"a", "b"}
    assert result.lead_not_significant == {}
