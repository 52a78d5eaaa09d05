"""`muge-eval run` on caption tasks: the human baseline, resumable cached runs (a real
SIGKILL in the middle), the hf-captioner adapter on a tiny saved checkpoint, and the
openai-chat adapter against a local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from caption_helpers import ColourCaptioner, fake_chat_server, make_tiny_captioner, write_muge_split
from click.testing import CliRunner

from muge_eval.caption.adapters.human import HumanBaseline
from muge_eval.caption.cache import CaptionCache
from muge_eval.cli.main import main
from muge_eval.results import read_results

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


def test_human_baseline_on_bundled_sample(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, output = run_cli("run", "--task", "muge-caption-sample", "--model", "human", "--output-dir", str(out),
                           "--log-samples")  # fmt: skip
    assert code == 0, output
    document = read_results(out / "results.json")
    assert document["main_metric"] == "cider_d"
    assert document["dataset"]["num_items"] == {"images": 48}
    assert document["protocol"]["tokenizer"]["name"] == "char"
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(samples) == 48
    assert {"image_id", "caption", "references", "bleu4", "rouge_l", "cider_d"} <= set(samples[0])
    gold = {
        json.loads(line)["image_id"]: json.loads(line)["text"]
        for line in (REPO / "tasks/muge-caption-sample/IC_valid.jsonl").read_text(encoding="utf-8").splitlines()
    }
    for sample in samples:  # the held-out reference is the hypothesis, the rest are the references
        refs = gold[sample["image_id"]]
        assert sample["caption"] in refs
        assert sorted([sample["caption"], *sample["references"]]) == sorted(refs)
    predictions = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == 48 and set(json.loads(predictions[0])) == {"image_id", "text"}
    # Deterministic: the same run again gives the same numbers.
    code, _ = run_cli("run", "--task", "muge-caption-sample", "--model", "human", "--output-dir", str(tmp_path / "b"))
    assert read_results(tmp_path / "b" / "results.json")["metrics"] == document["metrics"]


def test_human_baseline_held_out_choice_depends_on_seed() -> None:
    refs = [f"参考{i}" for i in range(10)]
    picks = {HumanBaseline(seed).hold_out("img", refs)[0] for seed in range(30)}
    assert len(picks) > 3
    assert HumanBaseline(5).hold_out("img", refs) == HumanBaseline(5).hold_out("img", refs)


def test_killed_run_resumes_from_cache_with_same_results(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_muge_split(data, None, count=10)
    cache_dir = tmp_path / "cache"
    calls = tmp_path / "calls.txt"
    common = ["--task", "muge-caption", "--data-dir", str(data), "--batch-size", "3", "--cache-dir", str(cache_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS_DIR)])}
    killed = subprocess.run(
        [sys.executable, "-m", "muge_eval", "--quiet", "run", *common, "--output-dir", str(tmp_path / "killed"),
         "--model", "caption_helpers:ColourCaptioner", "--model-args", f"die_after=2,calls_file={calls}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "killed" / "results.json").exists()
    assert calls.read_text().split() == ["3", "3"]  # two batches done before the kill
    model = ["--model", "caption_helpers:ColourCaptioner", "--model-args", f"calls_file={calls}"]
    code, output = run_cli("run", *common, "--output-dir", str(tmp_path / "resumed"), *model)
    assert code == 0, output
    assert calls.read_text().split() == ["3", "3", "3", "1"]  # only the 4 remaining images
    resumed = read_results(tmp_path / "resumed" / "results.json")
    assert any("6 captions reused from the cache" in note for note in resumed["notes"])
    code, output = run_cli("run", *common, "--output-dir", str(tmp_path / "fresh"), "--task-args",
                           "caption_cache=off", "--model", "caption_helpers:ColourCaptioner")  # fmt: skip
    assert code == 0, output
    assert read_results(tmp_path / "fresh" / "results.json")["metrics"] == resumed["metrics"]


def test_cache_cuts_a_partial_last_line(tmp_path: Path) -> None:
    cache = CaptionCache(tmp_path, "model-x", {"beams": 1})
    assert cache.load() == {}
    cache.append({"a": "红色", "b": "蓝色"})
    with cache.path.open("a", encoding="utf-8") as handle:
        handle.write('{"image_id": "c", "te')  # killed mid-write
    assert CaptionCache(tmp_path, "model-x", {"beams": 1}).load() == {"a": "红色", "b": "蓝色"}
    cache.append({"c": "绿色"})
    assert CaptionCache(tmp_path, "model-x", {"beams": 1}).load() == {"a": "红色", "b": "蓝色", "c": "绿色"}
    assert CaptionCache(tmp_path, "model-x", {"beams": 2}).load() == {}  # other settings, other cache


def test_hf_captioner_on_a_tiny_saved_model(tmp_path: Path) -> None:
    checkpoint = make_tiny_captioner(tmp_path / "tiny")
    data = tmp_path / "data"
    write_muge_split(data, None, count=5)
    out = tmp_path / "run"
    args = ["run", "--task", "muge-caption", "--data-dir", str(data), "--model", "hf-captioner", "--model-args",
            f"model={checkpoint},device=cpu,max_new_tokens=6,num_beams=2", "--batch-size", "2",
            "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(out), "--log-samples"]  # fmt: skip
    code, output = run_cli(*args)
    assert code == 0, output
    document = read_results(out / "results.json")
    assert document["model"]["fingerprint"].startswith("sha256:")
    generation = document["model"]["protocol"]["generation"]
    assert generation["num_beams"] == 2 and generation["max_new_tokens"] == 6
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    assert all(isinstance(json.loads(line)["text"], str) for line in lines)
    code, output = run_cli(*args[:-3], "--output-dir", str(tmp_path / "again"))
    assert code == 0, output
    again = read_results(tmp_path / "again" / "results.json")
    assert again["metrics"] == document["metrics"]
    assert any("5 captions reused" in note for note in again["notes"])


def test_openai_chat_run_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTION_TEST_KEY", "sk-never-written")
    data = tmp_path / "data"
    write_muge_split(data, None, count=4)
    out = tmp_path / "run"
    answers = {0: 500, 1: 429}
    with fake_chat_server(lambda n, payload: answers.get(n, "红色连衣裙")) as server:
        args = ["run", "--task", "muge-caption", "--data-dir", str(data), "--model", "openai-chat", "--model-args",
                f"model=qwen-vl,base_url={server['url']},api_key_env=CAPTION_TEST_KEY,backoff_s=0.01",
                "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(out)]  # fmt: skip
        code, output = run_cli(*args)
        assert code == 0, output
        first = server["requests"]
        code, output = run_cli(*args)
        assert code == 0, output
        assert server["requests"] == first  # all from the cache
    document = read_results(out / "results.json")
    assert document["model"]["protocol"]["served_model"] == "qwen-vl"
    for path in [*out.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert "sk-never-written" not in path.read_text(encoding="utf-8", errors="replace")


def test_caption_adapter_returning_wrong_count_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_muge_split(data, None, count=3)

    class Broken(ColourCaptioner):
        def caption(self, images):  # type: ignore[no-untyped-def]
            return ["x"]

    from muge_eval.caption.task import CaptionTask
    from muge_eval.plugins import build_registries, resolve_card
    from muge_eval.progress import Progress
    from muge_eval.specs import RunConfig

    task = CaptionTask(resolve_card(build_registries(), "muge-caption"), {"caption_cache": "off"})
    with pytest.raises(Exception, match="returned 1 captions for 3 images"):
        task.evaluate(Broken(), RunConfig("valid", batch_size=8, data_dir=data), Progress(quiet=True))


def test_test_split_is_captioned_but_not_scored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = write_muge_split(data, None, count=3)
    (data / "IC_valid.tsv").rename(data / "IC_test.tsv")
    (data / "IC_valid.jsonl").unlink()
    (data / "IC_test.jsonl").write_text("".join(json.dumps({"image_id": i}) + "\n" for i in ids))
    out = tmp_path / "run"
    code, output = run_cli("run", "--task", "muge-caption", "--data-dir", str(data), "--split", "test",
                           "--model", "caption_helpers:ColourCaptioner", "--task-args", "caption_cache=off",
                           "--output-dir", str(out))  # fmt: skip
    assert code == 0, output
    document = read_results(out / "results.json")
    assert document["metrics"] == {} and document["main_metric"] is None
    assert document["protocol"]["tokenizer"]["name"] == "char"
    assert any("not scored" in note for note in document["notes"])
    assert [json.loads(line)["image_id"] for line in (out / "predictions.jsonl").read_text().splitlines()] == ids


def test_aic_layout_run_reads_the_image_directory(tmp_path: Path) -> None:
    from caption_helpers import jpeg

    data = tmp_path / "aic"
    images = data / "caption_validation_images_20170910"
    images.mkdir(parents=True)
    annotations = []
    for n, colour in enumerate([(220, 30, 30), (20, 30, 200)]):
        (images / f"img{n}.jpg").write_bytes(jpeg(colour))
        annotations.append({"url": "", "image_id": f"img{n}.jpg", "caption": ["红色连衣裙很好看", "一条红色的连衣裙"]})
    (data / "caption_validation_annotations_20170910.json").write_text(json.dumps(annotations, ensure_ascii=False))
    out = tmp_path / "run"
    code, output = run_cli("run", "--task", "aic-icc-caption", "--data-dir", str(data), "--model",
                           "caption_helpers:ColourCaptioner", "--task-args", "caption_cache=off",
                           "--output-dir", str(out))  # fmt: skip
    assert code == 0, output
    predictions = json.loads((out / "predictions.json").read_text(encoding="utf-8"))
    assert predictions == [{"image_id": "img0", "caption": "红色连衣裙"}, {"image_id": "img1", "caption": "简约裙子"}]
    assert read_results(out / "results.json")["protocol"]["tokenizer"]["name"] == "jieba"


@pytest.mark.parametrize("tokenizer", ["char", "jieba"])
def test_fast_scorer_equals_pycocoevalcap_scorers_on_the_sample(tmp_path: Path, tokenizer: str) -> None:
    """`scorer=pycocoevalcap` calls Bleu(4)/Rouge()/Cider() directly; the default must agree."""
    code, output = run_cli("run", "--task", "muge-caption-sample", "--model", "human", "--output-dir",
                           str(tmp_path / "run"), "--tokenizer", tokenizer)  # fmt: skip
    assert code == 0, output
    scores = {}
    for scorer in ("fast", "pycocoevalcap"):
        out = str(tmp_path / f"{scorer}.json")
        code, output = run_cli("score", "--task", "muge-caption-sample", "--tokenizer", tokenizer,
                               "--predictions", str(tmp_path / "run" / "predictions.jsonl"),
                               "--task-args", f"scorer={scorer}", "--output", out)  # fmt: skip
        assert code == 0, output
        scores[scorer] = read_results(tmp_path / f"{scorer}.json")
    assert scores["pycocoevalcap"]["protocol"]["scorer"].startswith("pycocoevalcap Bleu(4)")
    for name, value in scores["pycocoevalcap"]["metrics"].items():
        assert scores["fast"]["metrics"][name] == pytest.approx(value, rel=0, abs=1e-12), name
    assert scores["fast"]["metrics"]["cider_d"] > 0
