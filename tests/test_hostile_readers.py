"""The readers added since the first fuzz pass, given hostile input: ``compare`` and
``regress --expected published:ID`` and ``table`` with results files whose every part is
the wrong type or missing, ``table``/``submit``/``leaderboard build`` with hostile samples,
``submit --card`` with hostile model cards, a board's ``references:``, arena documents and
``arena``'s runs. Every case ends in exit 0-3 within ``CASE_SECONDS``, without a
traceback; what must be refused is refused, naming the file."""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from caption_helpers import write_muge_split
from fuzz_documents import document_cases, model_card_cases, raw_value_cases, reference_cases, sample_cases
from fuzz_runner import CASE_SECONDS, cache_registries, invoke, problems_of, report
from fuzz_targets import TARGETS, byte_damage, results_cases

import muge_eval.published
import muge_eval.published.loader
from muge_eval.arena import read_arena, write_arena
from muge_eval.caption.arena import ArenaEntry, PairJudgement, build_arena
from muge_eval.caption.chat_judge import ChatJudgeSettings
from muge_eval.errors import InputError

pytestmark = pytest.mark.fuzz

SEED = 20240517
PUBLISHED = "chinese-clip-results/cn-clip-rn50/muge/valid/t2i/zero-shot"
RETRIEVAL = next(t for t in TARGETS if t.type == "retrieval")
RAW_PAYLOADS = ("<script>alert", "<svg onload", "<img src=x", '"onmouseover', "javascript:alert")


@pytest.fixture(autouse=True)
def quick_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards and the published registry are read once per test: they are not what is fuzzed."""
    cache_registries(monkeypatch)
    cached = functools.lru_cache(maxsize=1)(muge_eval.published.loader.load_published)
    monkeypatch.setattr(muge_eval.published.loader, "load_published", cached)
    monkeypatch.setattr(muge_eval.published, "load_published", cached)


def scored_results(directory: Path) -> Path:
    """A muge-retrieval valid results file (the published entries' task) with the protocol
    facts ``compare`` reads."""
    gold, submission = RETRIEVAL.write_files(directory)
    out = directory / "results.json"
    outcome = invoke("score", "--task", RETRIEVAL.card, "--gold", str(gold), "--predictions", str(submission),
                     "--output", str(out))  # fmt: skip
    assert outcome.code == 0, outcome.output
    document = json.loads(out.read_text(encoding="utf-8"))
    document["model"]["protocol"] = {"preprocess": "bicubic", "resolution": 224, "dtype": "float16", "autocast": True}
    document["protocol"]["split"] = {"images": 30588, "texts": 5008, "images_sha256": "ab" * 32}
    out.write_text(json.dumps(document), encoding="utf-8")
    return out


def test_compare_regress_and_table_with_hostile_results(tmp_path: Path) -> None:
    good = scored_results(tmp_path / "good")
    for command in (["compare", str(good)], ["regress", "--expected", f"published:{PUBLISHED}", "--actual", str(good)]):
        assert invoke(*command).code in (1, 3)  # a random submission misses the published numbers
    hostile = tmp_path / "hostile.json"
    rng = random.Random(SEED)
    read = ("model", "protocol", "dataset", "run_config", "task", "metrics", "main_metric")
    cases = [*document_cases("results", good.read_bytes(), rng, read), *results_cases(good.read_bytes(), rng, 10)]
    found: list[str] = []
    for case in cases:
        hostile.write_bytes(case.data)
        for command in (["compare", str(hostile)], ["compare", str(hostile), "--published", PUBLISHED],
                        ["regress", "--expected", f"published:{PUBLISHED}", "--actual", str(hostile)],
                        ["table", str(hostile), "--format", "csv"]):  # fmt: skip
            found += problems_of(case, invoke(*command), hostile, (0, 1, 2, 3))
    report(found, len(cases))


def write_board(directory: Path, results: dict[str, Any], references: str = "") -> Path:
    task = results["task"]["name"]
    text = (
        "title: fuzz\nbootstrap: {resamples: 100, seed: 1}\ntasks:\n"
        f"  - name: {task}\n    split: {results['dataset']['split']}\n    main_metric: mean_recall\n"
        f"    columns: [mean_recall, r1]\n    fingerprints: [{results['dataset']['fingerprint']!r}]\n"
    )
    if references:
        text += "    references:\n" + references
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "board.yaml").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the bundled retrieval sample with its samples file."""
    out = tmp_path_factory.mktemp("run") / "run"
    outcome = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--log-samples",
                     "--output-dir", str(out))  # fmt: skip
    assert outcome.code == 0, outcome.output
    return out / "results.json"


def fresh_copy(results: Path, directory: Path) -> Path:
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(results.parent, directory)
    return directory / results.name


def site_text(site: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))


def test_table_submit_and_build_with_hostile_samples(logged_run: Path, tmp_path: Path) -> None:
    results = fresh_copy(logged_run, tmp_path / "run")
    board = write_board(tmp_path / "board", json.loads(results.read_text(encoding="utf-8")))
    samples = results.parent / "samples.jsonl"
    cases = list(sample_cases(samples.read_bytes(), random.Random(SEED + 1)))
    found: list[str] = []
    for case in cases:
        samples.write_bytes(case.data)
        shutil.rmtree(board / "results", ignore_errors=True)
        found += problems_of(case, invoke("table", str(results)), samples)
        submitted = invoke("submit", str(results), "--board", str(board))
        found += problems_of(case, submitted, samples)
        if submitted.code == 0:
            found += problems_of(case, invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site")),
                                 samples)  # fmt: skip
    report(found, len(cases))


def test_submit_with_hostile_model_cards(logged_run: Path, tmp_path: Path) -> None:
    results = fresh_copy(logged_run, tmp_path / "run")
    board = write_board(tmp_path / "board", json.loads(results.read_text(encoding="utf-8")))
    card = tmp_path / "card.yaml"
    cases = list(model_card_cases())
    found: list[str] = []
    for case in cases:
        card.write_bytes(case.data)
        shutil.rmtree(board / "results", ignore_errors=True)
        submitted = invoke("submit", str(results), "--board", str(board), "--card", str(card))
        found += problems_of(case, submitted, card)
        if case.must_fail and str(card) not in submitted.output:
            found.append(f"{case.name}: the message does not name the card\n{submitted.output[-300:]}")
        if submitted.code == 0:
            built = invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"))
            found += problems_of(case, built, card)
            if built.code == 0 and any(p in site_text(tmp_path / "site") for p in RAW_PAYLOADS):
                found.append(f"{case.name}: a payload reached the site unescaped")
    report(found, len(cases))


def test_build_with_hostile_references(logged_run: Path, tmp_path: Path) -> None:
    results = fresh_copy(logged_run, tmp_path / "run")
    document = json.loads(results.read_text(encoding="utf-8"))
    assert invoke("submit", str(results), "--board", str(write_board(tmp_path / "board", document))).code == 0
    cases = list(reference_cases())
    found: list[str] = []
    for case in cases:
        board = write_board(tmp_path / "board", document, case.data.decode())
        built = invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"))
        found += problems_of(case, built, board / "board.yaml")
        if case.must_fail and str(board / "board.yaml") not in built.output:
            found.append(f"{case.name}: the message does not name board.yaml\n{built.output[-300:]}")
        if built.code == 0 and any(p in site_text(tmp_path / "site") for p in RAW_PAYLOADS):
            found.append(f"{case.name}: a payload reached the site unescaped")
    report(found, len(cases))


BOARD_KEYS: dict[str, Callable[[str], str]] = {
    "board keys of two types": lambda text: text + "1: x\nfoo: y\n",
    "task keys of two types": lambda text: text + "    1: x\n    foo: y\n",
    "a NaN range": lambda text: text + "    ranges: {mean_recall: [.nan, 100]}\n",
    "an infinite range": lambda text: text + "    ranges: {mean_recall: [0, .inf]}\n",
    "a range upside down": lambda text: text + "    ranges: {mean_recall: [100, 0]}\n",
    "gallery keys of two types": lambda text: text + "gallery: {1: 2, seeded: 3}\n",
}


@pytest.mark.parametrize("change", list(BOARD_KEYS), ids=list(BOARD_KEYS))
def test_a_hostile_board_yaml_is_one_message(change: str, logged_run: Path, tmp_path: Path) -> None:
    document = json.loads(logged_run.read_text(encoding="utf-8"))
    board = write_board(tmp_path / "board", document)
    text = (board / "board.yaml").read_text(encoding="utf-8")
    (board / "board.yaml").write_text(BOARD_KEYS[change](text), encoding="utf-8")
    for outcome in (invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site")),
                    invoke("submit", str(logged_run), "--board", str(board))):  # fmt: skip
        assert outcome.error is None and outcome.code == 1, outcome.output
        assert f"{board / 'board.yaml'}: " in outcome.output


def test_read_arena_with_hostile_documents(tmp_path: Path) -> None:
    entries = [ArenaEntry(n, f"{n}/results.json", None, {"x": n}) for n in ("a", "b", "c")]
    judgements = [PairJudgement("x", 0, 1, "A", "", True), PairJudgement("x", 2, 0, "tie", "", True)]
    task = {"name": "t", "type": "caption", "card_sha256": ""}
    dataset = {"split": "valid", "fingerprint": "f", "num_items": 1, "limit": None}
    document = build_arena(["x"], entries, judgements, task, dataset, ChatJudgeSettings("j"), 20, 1)
    good = tmp_path / "arena.json"
    write_arena(good, document)
    valid = good.read_bytes()
    places = {"rating": ("ratings", 0, "rating"), "run name": ("runs", 0, "name"), "items": ("dataset", "num_items")}
    cases = [
        *document_cases("arena", valid, random.Random(SEED + 2), ("runs", "ratings", "pairs", "dataset")),
        *raw_value_cases("arena", valid, places),
        *byte_damage("arena", valid, random.Random(SEED + 3), 60),
    ]
    hostile = tmp_path / "hostile.json"
    found = []
    for case in cases:
        hostile.write_bytes(case.data)
        try:
            read = read_arena(hostile)
        except InputError as error:
            if str(hostile) not in str(error):
                found.append(f"{case.name}: the message does not name the file: {error}")
        except Exception as error:  # the point: nothing else escapes
            found.append(f"{case.name}: raised {type(error).__name__}: {error}")
        else:
            if case.must_fail:
                found.append(f"{case.name}: accepted {read}")
    report(found, len(cases))


@pytest.fixture(scope="module")
def caption_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("arena")
    write_muge_split(base / "data", None, count=3)
    runs = {"data": base / "data"}
    models = {"colour": "caption_helpers:ColourCaptioner", "plain": "tests_support_adapter:CaptionOnly"}
    for name, model in models.items():
        outcome = invoke("run", "--task", "muge-caption", "--data-dir", str(base / "data"), "--model", model,
                         "--model-name", name, "--task-args", "caption_cache=off",
                         "--output-dir", str(base / name))  # fmt: skip
        assert outcome.code == 0, outcome.output
        runs[name] = base / name
    return runs


def arena_with(runs: dict[str, Path], out: Path, *extra: str) -> Any:
    # Nothing listens there: every case must be refused before a judge is asked.
    return invoke("arena", str(runs["colour"]), str(runs["plain"]), "--task", "muge-caption", "--data-dir",
                  str(runs["data"]), "--llm-judge", "j", "--llm-judge-args", "base_url=http://127.0.0.1:9/v1",
                  "--output-dir", str(out), *extra)  # fmt: skip


@pytest.mark.parametrize("names", ["colour, ", " ,plain", ","])
def test_arena_refuses_an_empty_name_before_judging(names: str, caption_runs: dict[str, Path], tmp_path: Path) -> None:
    outcome = arena_with(caption_runs, tmp_path / "arena", "--names", names)
    assert outcome.error is None and outcome.code == 2 and "--names" in outcome.output, outcome.output
    assert not (tmp_path / "arena").exists()


@pytest.mark.parametrize("listed", ["../plain/predictions.jsonl", "/etc/passwd", "missing.jsonl", ".."])
def test_arena_reads_predictions_only_beside_a_results_file(
    listed: str, caption_runs: dict[str, Path], tmp_path: Path
) -> None:
    runs = {**caption_runs, "colour": tmp_path / "colour"}
    shutil.copytree(caption_runs["colour"], runs["colour"])
    results = runs["colour"] / "results.json"
    document = json.loads(results.read_text(encoding="utf-8"))
    document["files"]["predictions_image_to_text"] = listed
    results.write_text(json.dumps(document), encoding="utf-8")
    outcome = arena_with(runs, tmp_path / "arena")
    assert outcome.error is None and outcome.code == 1, outcome.output
    assert f"{results}: files/predictions_image_to_text: " in outcome.output


def test_table_csv_quotes_a_formula_in_a_model_name(tmp_path: Path) -> None:
    gold, submission = RETRIEVAL.write_files(tmp_path)
    out = tmp_path / "results.json"
    formula = '=HYPERLINK("http://e.example","x")'
    outcome = invoke("score", "--task", RETRIEVAL.card, "--gold", str(gold), "--predictions", str(submission),
                     "--output", str(out), "--model-name", formula)  # fmt: skip
    assert outcome.code == 0, outcome.output
    table = invoke("table", str(out), "--format", "csv", "--main-only")
    assert table.code == 0 and f"'{formula}" in table.output.replace('""', '"'), table.output


def test_a_gallery_data_folder_of_fifos_and_loops_builds(logged_run: Path, tmp_path: Path) -> None:
    """``--data-dir`` of a gallery: FIFOs named like its tables and its images, a symlink loop
    and broken links are passed over (a FIFO would block the build for ever)."""
    results = fresh_copy(logged_run, tmp_path / "run")
    board = write_board(tmp_path / "board", json.loads(results.read_text(encoding="utf-8")))
    assert invoke("submit", str(results), "--board", str(board)).code == 0
    data = tmp_path / "data"
    data.mkdir()
    samples = [json.loads(line) for line in (results.parent / "samples.jsonl").read_text("utf-8").splitlines()]
    for image_id in {str(i) for s in samples for i in s["predicted"] + s["relevant"]}:
        os.mkfifo(data / f"{image_id}.jpg")
    os.mkfifo(data / "valid.tsv")
    (data / "loop").symlink_to(data)
    (data / "gone.tsv").symlink_to(data / "nowhere.tsv")
    outcome = invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"),
                     "--data-dir", f"muge-retrieval-sample={data}")  # fmt: skip
    assert outcome.error is None and outcome.code == 0, outcome.output
    assert outcome.seconds < CASE_SECONDS
