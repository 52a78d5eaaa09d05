"""The task-type seam: every type has one shape, cards select metrics, options apply only
where they do something, several tasks run in one call, and the Python API agrees with
the CLI."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import muge_eval
from muge_eval.cli.main import main
from muge_eval.plugins import BUILTIN_TASK_TYPES, build_registries
from muge_eval.tasktypes.base import TaskType

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("task", "gold", "data", "submission", "scoring", "metrics", "adapters", "cache")
BUNDLED = ROOT / "tasks"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("type_name", sorted(BUILTIN_TASK_TYPES))
def test_every_builtin_task_type_has_the_same_shape(type_name: str) -> None:
    task_class = build_registries().task_types.get(type_name)
    assert issubclass(task_class, TaskType) and task_class.name == type_name
    package = task_class.__module__.rsplit(".", 1)[0]
    for role in ROLES:
        importlib.import_module(f"{package}.{role}")
    specs = task_class.metric_specs()
    assert specs and len({s.name for s in specs}) == len(specs)
    assert task_class.submission_formats and task_class.adapter_protocols


def write_card(directory: Path, name: str, extra: str, base: str = "muge-retrieval-sample") -> Path:
    """A copy of a bundled card under another name, reading the bundled data."""
    source = (BUNDLED / f"{base}.yaml").read_text(encoding="utf-8")
    lines = [line for line in source.splitlines() if not line.startswith(("name:", "metrics:", "main_metric:"))]
    text = "\n".join(lines).replace(f"location: {base}", f"location: {BUNDLED / base}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\n{text}\n{textwrap.dedent(extra)}", encoding="utf-8")
    return path


def test_a_cards_metrics_select_what_is_computed_and_reported(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    write_card(cards, "two", "metrics: [r1, mean_recall]\nmain_metric: r1\n")
    document = muge_eval.evaluate("two", "random", tasks_dirs=[cards])
    assert list(document["metrics"]) == ["r1", "mean_recall"] and document["main_metric"] == "r1"
    assert set(document["metric_info"]) == {"r1", "mean_recall"}
    # The user narrows it further.
    document = muge_eval.evaluate("two", "random", tasks_dirs=[cards], metrics="mean_recall")
    assert list(document["metrics"]) == ["mean_recall"] and document["main_metric"] == "mean_recall"


def test_caption_honours_the_cards_main_metric(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    write_card(cards, "cap", "metrics: [rouge_l, cider_d]\nmain_metric: rouge_l\n", base="muge-caption-sample")
    document = muge_eval.evaluate("cap", "human", tasks_dirs=[cards])
    assert document["main_metric"] == "rouge_l" and list(document["metrics"]) == ["rouge_l", "cider_d"]


def test_unknown_metrics_name_their_source(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    card = write_card(cards, "bad", "metrics: [r1, r100]\n")
    code, _, err = invoke("run", "--task", "bad", "--tasks-dir", str(cards), "--model", "random")
    assert code == 1 and f"{card}: metrics: unknown retrieval metric(s) r100" in err and "available:" in err
    code, _, err = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--metrics", "bleu4")
    assert code == 2 and "unknown retrieval metric(s) bleu4" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "muge-caption-sample", "--model", "human", "--num-workers", "2"], "--num-workers does not apply"),
        (["--task", "muge-caption-sample", "--model", "human", "--skip-bad-images"], "--skip-bad-images does not"),
        (["--task", "muge-t2i-sample", "--model", "procedural", "--skip-bad-images"], "--skip-bad-images does not"),
        (["--task", "muge-retrieval-sample", "--model", "random", "--tokenizer", "jieba"], "option of caption tasks"),
        (["--task", "muge-retrieval-sample", "--model", "random", "--model", "random"], "--model is given 2 times"),
        (["--task", "muge-retrieval-sample", "--model", "random", "--device", "cpu"], "takes no device argument"),
        (["--task", "muge-retrieval-sample", "--model", "random", "--task-args", "tokenizer=x"], "does not take"),
    ],
)
def test_options_that_would_do_nothing_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("run", *args, "--output-dir", str(tmp_path))
    assert code == 2 and message in err, err
    assert not (tmp_path / "results.json").exists()


def test_several_tasks_in_one_run(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    write_card(cards, "again", "")
    code, out, err = invoke(
        "run", "--task", "muge-retrieval-sample,again", "--tasks-dir", str(cards), "--model", "random",
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err
    first = json.loads((tmp_path / "out" / "muge-retrieval-sample" / "results.json").read_text())
    second = json.loads((tmp_path / "out" / "again" / "results.json").read_text())
    assert first["metrics"] == second["metrics"]
    assert "summary (main metrics)" in out and out.count("mean_recall") >= 3


def test_the_run_ends_with_a_table_of_metrics_and_intervals(tmp_path: Path) -> None:
    code, out, _ = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(tmp_path))
    assert code == 0
    header, *rows = out.splitlines()[:7]
    assert header.split() == ["task", "split", "n", "metric", "value", "ci_low", "ci_high", "main"]
    row = next(r.split() for r in rows if r.split()[3] == "mean_recall")
    assert row[2] == "64" and row[-1] == "*" and float(row[5]) <= float(row[4]) <= float(row[6])


def test_batch_size_auto_lets_the_adapter_choose(tmp_path: Path) -> None:
    document = muge_eval.evaluate("muge-retrieval-sample", "random", batch_size=None)
    assert document["run_config"]["batch_size"] == 64


def test_table_command_tabulates_results_files(tmp_path: Path) -> None:
    for seed in (1, 2):
        out = str(tmp_path / str(seed))
        code, _, _ = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--seed", str(seed),
                            "--model-name", f"random-{seed}", "--log-samples", "--output-dir", out)  # fmt: skip
        assert code == 0
    files = [str(tmp_path / s / "results.json") for s in ("1", "2")]
    code, out, _ = invoke("table", *files, "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0] == "task,split,n,model,metric,value,ci_low,ci_high,main" and len(lines) == 13
    main_row = next(line for line in lines if ",random-1,mean_recall," in line).split(",")
    assert main_row[-1] == "*" and main_row[6] and main_row[7]  # an interval from the samples
    code, out, _ = invoke("table", *files, "--format", "markdown", "--main-only")
    assert code == 0 and out.count("| muge-retrieval-sample |") == 2


def test_the_python_api_gives_the_clis_numbers(tmp_path: Path) -> None:
    runs = {
        "muge-retrieval-sample": ("random", []),
        "muge-caption-sample": ("human", []),
        "muge-t2i-sample": ("procedural", ["--judge", "random"]),
        "classification-sample": ("random", []),
    }
    for task, (model, extra) in runs.items():
        code, _, err = invoke("run", "--task", task, "--model", model, *extra, "--output-dir", str(tmp_path / task))
        assert code == 0, err
        cli = json.loads((tmp_path / task / "results.json").read_text())
        options = {"judge": "random"} if extra else {}
        api = muge_eval.evaluate(task, model, **options)
        assert api["metrics"] == cli["metrics"] and api["main_metric"] == cli["main_metric"]
        assert api["protocol"] == cli["protocol"] and api["dataset"] == cli["dataset"]


def test_the_api_takes_adapter_objects_and_scores_files(tmp_path: Path) -> None:
    from muge_eval.retrieval.adapters.random_baseline import RandomRetrieval

    by_object = muge_eval.evaluate("muge-retrieval-sample", RandomRetrieval(seed=1234), output_dir=tmp_path)
    assert by_object["metrics"] == muge_eval.evaluate("muge-retrieval-sample", "random")["metrics"]
    assert by_object["model"]["adapter"].endswith("random_baseline:RandomRetrieval")
    scored = muge_eval.score("muge-retrieval-sample", tmp_path / "predictions.jsonl")
    assert scored["metrics"] == by_object["metrics"]


def test_help_imports_nothing_heavy() -> None:
    code = textwrap.dedent(
        """
        import sys
        from muge_eval.cli.main import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        heavy = [m for m in ("numpy", "jsonschema", "tqdm", "datasets", "torch", "yaml") if m in sys.modules]
        print("HEAVY:" + ",".join(heavy))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "HEAVY:\n" in done.stdout


def test_the_console_script_finds_a_model_module_in_the_current_directory(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "muge-eval"
    if not script.exists():
        pytest.skip("the console script is not installed beside this Python")
    (tmp_path / "my_model.py").write_text(
        "import numpy as np\n"
        "class Ones:\n"
        "    def encode_texts(self, texts): return np.ones((len(texts), 4), dtype=np.float32)\n"
        "    def encode_images(self, images): return np.ones((len(images), 4), dtype=np.float32)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(script), "--quiet", "run", "--task", "muge-retrieval-sample", "--model", "my_model:Ones",
         "--output-dir", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["model"]["adapter"] == "my_model:Ones"


def test_a_hub_id_fails_at_once_when_the_hub_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from muge_eval import hub
    from muge_eval.data.image_table import load_hub_table
    from muge_eval.errors import InputError

    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    started = time.perf_counter()
    with pytest.raises(InputError, match="cannot be reached"):
        load_hub_table("someone/some-dataset", "images", "valid", None)
    assert hub.cache_only("OFA-Sys/chinese-clip-vit-base-patch16")
    assert not hub.cache_only("/a/local/path") and not hub.cache_only("./relative")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "offline mode is set" in hub.not_cached_message("x/y")
    assert time.perf_counter() - started < 5


def test_a_model_path_must_name_a_class(tmp_path: Path) -> None:
    code, _, err = invoke("run", "--task", "muge-retrieval-sample", "--model", "builtins:print",
                          "--output-dir", str(tmp_path))  # fmt: skip
    assert code == 2 and "is not a class" in err


def test_default_output_folders_are_unique_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for seed in ("1", "2"):
        code, _, err = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--seed", seed)
        assert code == 0, err
    found = sorted((tmp_path / "muge-results" / "muge-retrieval-sample" / "random").glob("valid_*/results.json"))
    assert len(found) == 2 and found[0].parent != found[1].parent


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path: Path) -> None:
    out = str(tmp_path)
    assert (
        invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--log-samples", "--output-dir", out)[0]
        == 0
    )
    assert (tmp_path / "samples.jsonl").exists()
    assert invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", out)[0] == 0
    assert not (tmp_path / "samples.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl", "results.json"]


def test_the_features_adapter_finds_relative_files_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from muge_eval.retrieval.adapters.features import PrecomputedFeatures

    data = tmp_path / "data"
    data.mkdir()
    (data / "img.jsonl").write_text('{"image_id": 1, "feature": [1.0, 0.0]}\n')
    (data / "txt.jsonl").write_text('{"text_id": 1, "feature": [1.0, 0.0]}\n')
    monkeypatch.chdir(tmp_path)
    adapter = PrecomputedFeatures(Path("img.jsonl"), Path("txt.jsonl"), data_dir=data)
    assert adapter.paths[0] == data / "img.jsonl"
    from muge_eval.errors import InputError

    with pytest.raises(InputError, match=f"looked in {tmp_path} and in {data}"):
        PrecomputedFeatures(Path("nope.jsonl"), Path("txt.jsonl"), data_dir=data)


class _PixelsWithoutEncoder:
    """Duck-typed: gives a transform for the decoding workers but cannot take pixels."""

    def encode_texts(self, texts: list[str]) -> object:
        raise AssertionError("not reached")

    def encode_images(self, images: list[object]) -> object:
        raise AssertionError("not reached")

    def image_transform(self) -> object:
        from muge_eval.data.image_transform import ImageTransform

        return ImageTransform(32)


def test_a_transform_without_encode_pixels_is_refused_before_any_work() -> None:
    from muge_eval.errors import UsageError
    from muge_eval.models.base import RETRIEVAL, RetrievalAdapter, as_adapter

    class Subclassed(RetrievalAdapter):
        encode_texts = _PixelsWithoutEncoder.encode_texts  # type: ignore[assignment]
        encode_images = _PixelsWithoutEncoder.encode_images  # type: ignore[assignment]
        image_transform = _PixelsWithoutEncoder.image_transform  # type: ignore[assignment]

    for model in (_PixelsWithoutEncoder(), Subclassed()):
        message = f"{type(model).__name__} declares an image_transform but no encode_pixels"
        with pytest.raises(UsageError, match=message):
            as_adapter(model, [RetrievalAdapter], RETRIEVAL)
    plain = as_adapter(type("Plain", (), dict(vars(_PixelsWithoutEncoder), image_transform=lambda self: None))(),
                       [RetrievalAdapter], RETRIEVAL)  # fmt: skip
    assert isinstance(plain, RetrievalAdapter)
