"""``muge-eval arena``: pairwise judgements between runs' captions, rated (arena.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from muge_eval.cli.common import quiet_flag, registries_for, tasks_dir_option
from muge_eval.errors import InputError, Problem, UsageError


def _results_path(given: Path) -> Path:
    return given / "results.json" if given.is_dir() else given


def _entries(paths: tuple[Path, ...], names: str, task: Any, gold: Any, ids: list[str]) -> tuple[list[Any], dict]:
    """The runs' captions (read and checked as submissions) and their common dataset."""
    from muge_eval.caption.arena import ArenaEntry
    from muge_eval.results import listed_file, read_results

    chosen = [n.strip() for n in names.split(",")] if names else []
    if chosen and len(chosen) != len(paths):
        raise UsageError(f"--names gives {len(chosen)} names for {len(paths)} runs")
    if not all(chosen):
        raise UsageError(f"--names {names!r}: every run needs a name")
    entries, datasets = [], []
    for number, given in enumerate(paths):
        path = _results_path(given)
        document = read_results(path)
        if document["task"]["type"] != "caption":
            raise InputError([Problem(str(path), "the arena compares caption runs", field="task/type")])
        predictions = listed_file(document, path, "predictions_image_to_text")  # never outside its folder
        if predictions is None:
            raise InputError([Problem(str(path), "no predictions file beside it (files/predictions_image_to_text)")])
        submission = task.read_submission(gold, predictions, None)
        name = chosen[number] if chosen else str(document["model"]["name"])
        captions = {i: submission.captions[i] for i in ids}
        entries.append(ArenaEntry(name, str(given), document["model"].get("fingerprint"), captions))
        datasets.append((path, document["dataset"]))
    if len({e.name for e in entries}) != len(entries):
        raise UsageError("two runs have the same model name: give each a name with --names a,b,...")
    return entries, {str(p): d for p, d in datasets}


@click.command("arena")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--task", "task_name", required=True, help="The caption task the runs were evaluated on.")
@click.option("--split", default=None, help="Split (default: the card's).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="The task's files.")
@click.option("--llm-judge", "judge_model", required=True, help="Served model name of the chat judge.")
@click.option(
    "--llm-judge-args",
    default="",
    help="base_url, api_key_env, concurrency, timeout_s, max_retries, backoff_s, max_tokens, repair_attempts.",
)
@click.option("--output-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where to write.")
@click.option("--names", default="", help="Display names of the runs, comma-separated (default: their model names).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Judge only the first N images.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=20210501, show_default=True, help="Bootstrap seed.")
@click.option("--prior", type=click.FloatRange(min=0.0), default=1.0, show_default=True, help="Virtual ties per pair.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Cache root.")
@tasks_dir_option
@click.pass_context
def arena_command(
    ctx: click.Context,
    runs: tuple[Path, ...],
    task_name: str,
    split: str | None,
    data_dir: Path | None,
    judge_model: str,
    llm_judge_args: str,
    output_dir: Path,
    names: str,
    limit: int | None,
    resamples: int,
    seed: int,
    prior: float,
    cache_dir: Path | None,
    tasks_dirs: tuple[Path, ...],
) -> None:
    """Judge two or more runs' captions of the same images in pairs (both orders) with a
    chat judge, and rate them (Bradley-Terry, Elo scale, bootstrap intervals).

    RUNS are results files of `muge-eval run` (or their folders) with their predictions.
    Writes OUTPUT_DIR/arena.json and OUTPUT_DIR/judgements.jsonl (every judgement, with
    the judge's reason).
    """
    import dataclasses
    import json

    from muge_eval.arena import ARENA_FILE, JUDGEMENTS_FILE, write_arena
    from muge_eval.cache import cache_dir as cache_folder
    from muge_eval.caption.arena import build_arena, judge_pairs, judgement_lines
    from muge_eval.caption.chat_judge import ChatJudgeSettings
    from muge_eval.caption.data import load_caption_data
    from muge_eval.io.atomic import atomic_write_lines
    from muge_eval.models.args import parse_key_values
    from muge_eval.progress import Progress
    from muge_eval.tasktypes.loading import load_task

    if len(runs) < 2:
        raise UsageError("an arena needs at least two runs")
    settings = ChatJudgeSettings.parse(
        judge_model, parse_key_values(llm_judge_args, "--llm-judge-args"), "--llm-judge-args"
    )
    registries = registries_for(tasks_dirs)
    task = load_task(registries, task_name, {})
    if task.name != "caption":
        raise UsageError(f"the arena compares captions; {task_name!r} is a {task.name} task")
    split = split or task.card.default_split
    task.check_split(split)
    data = load_caption_data(task.card.data.format, split, task.data_dir(data_dir), cache_dir, True)
    gold = data.gold
    if gold.references is None:
        raise UsageError(f"split {split} has no reference captions to show the judge")
    ids = list(gold.ids[:limit] if limit else gold.ids)
    entries, datasets = _entries(runs, names, task, gold, ids)
    for path, dataset in datasets.items():
        if dataset["fingerprint"] != data.info.fingerprint or dataset["split"] != split:
            raise InputError(
                [
                    Problem(
                        path, f"evaluated on other data ({dataset['split']}, {dataset['fingerprint']})", field="dataset"
                    )
                ]
            )
    assert data.images is not None
    progress = Progress(quiet=quiet_flag(ctx))
    judgements, reused = judge_pairs(
        ids,
        entries,
        gold.references,
        data.images.load,
        data.info.fingerprint,
        settings,
        cache_folder("judgements", cache_dir),
        progress,
    )
    notes = [f"{reused} judgement(s) reused from the cache"] if reused else []
    document = build_arena(
        ids,
        entries,
        judgements,
        {"name": task.card.name, "type": task.name, "card_sha256": task.card.sha256},
        {"split": split, "fingerprint": data.info.fingerprint, "num_items": len(ids), "limit": limit},
        settings,
        resamples,
        seed,
        prior,
        notes,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = judgement_lines(judgements, entries)
    atomic_write_lines(output_dir / JUDGEMENTS_FILE, lambda: (json.dumps(line, ensure_ascii=False) for line in lines))
    document = dataclasses.replace(document, files={"judgements": JUDGEMENTS_FILE})
    write_arena(output_dir / ARENA_FILE, document)
    for rating in document.ranked():
        click.echo(
            f"{rating.model:24s} {rating.rating:8.1f}  [{rating.low:.1f}, {rating.high:.1f}]  "
            f"{rating.wins}-{rating.losses}-{rating.ties}"
        )
    click.echo(f"arena: {output_dir / ARENA_FILE}")
