"""A task's galleries: the chosen items of every run, their pictures placed as thumbnails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.leaderboard.board import BoardTask, GallerySettings
from muge_eval.leaderboard.gallery.hooks import GalleryHook
from muge_eval.leaderboard.gallery.images import ThumbnailStore, read_data_images, read_tsv_images, thumbnail
from muge_eval.leaderboard.gallery.model import FROM_RUN, GalleryItem, ItemView, Shown
from muge_eval.leaderboard.gallery.select import SEEDED, Chosen, ItemScores, choose, item_scores


@dataclass(frozen=True)
class RunGallery:
    """What one run's gallery page shows, and how its items were chosen."""

    items: tuple[GalleryItem, ...]
    scored_by: str
    has_data: bool
    missing_pictures: int

    @property
    def seeded(self) -> int:
        return sum(SEEDED in item.why for item in self.items)


@dataclass(frozen=True)
class Plan:
    chosen: tuple[Chosen, ...]
    views: tuple[ItemView, ...]
    scores: ItemScores | None


@dataclass(frozen=True)
class GalleryContext:
    """What choosing and showing a task's gallery items depends on."""

    task: BoardTask
    settings: GallerySettings
    seed: int
    key_field: str | None
    hook: GalleryHook


def plan_gallery(
    infos: Mapping[str, Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], context: GalleryContext
) -> Plan:
    """The items a run's gallery shows and what its task type's hook makes of them."""
    task, settings = context.task, context.settings
    columns = [task.main_metric, *[c for c in task.columns if c != task.main_metric]]
    scores = item_scores(infos, columns, samples)
    chosen = tuple(choose(samples, scores, context.key_field, context.seed, settings.seeded, settings.extremes))
    return Plan(chosen, tuple(context.hook.view(samples[c.index], context.key_field) for c in chosen), scores)


def run_picture_ids(plan: Plan) -> set[str]:
    return {p.image_id for view in plan.views for p in view.pictures if p.origin == FROM_RUN}


def submission_images(
    document: Mapping[str, Any],
    infos: Mapping[str, Mapping[str, Any]],
    results_path: Path,
    samples: Sequence[Mapping[str, Any]],
    context: GalleryContext,
) -> dict[str, bytes]:
    """Thumbnails of the images a run made for its gallery items (stored with a submission,
    since the run's folder is not kept)."""
    if not context.hook.makes_images or not samples:
        return {}
    plan = plan_gallery(infos, samples, context)
    found = context.hook.run_images(document, results_path, run_picture_ids(plan))
    small = {key: thumbnail(data, context.settings.thumbnail) for key, data in found.items()}
    return {key: value[0] for key, value in small.items() if value is not None}


def task_galleries(
    plans: Mapping[str, Plan],
    run_images: Mapping[str, Path | None],
    data_dir: Path | None,
    split: str,
    folder: str,
    store: ThumbnailStore,
) -> dict[str, RunGallery]:
    """Every run's gallery of one task; data pictures are read in one pass for all runs."""
    wanted = {p.image_id for plan in plans.values() for v in plan.views for p in v.pictures if p.origin != FROM_RUN}
    data = read_data_images(data_dir, split, wanted)
    galleries: dict[str, RunGallery] = {}
    for stem, plan in plans.items():
        path = run_images.get(stem)
        made = read_tsv_images([path], run_picture_ids(plan)) if path is not None else {}
        items = []
        missing = 0
        for chosen, view in zip(plan.chosen, plan.views, strict=True):
            shown = []
            for picture in view.pictures:
                if picture.origin == FROM_RUN:
                    placed = store.place(f"{folder}/run-{stem}", picture.image_id, made.get(picture.image_id))
                else:
                    placed = store.place(folder, picture.image_id, data.get(picture.image_id))
                missing += placed is None
                shown.append(
                    Shown(picture) if placed is None else Shown(picture, placed.src, placed.width, placed.height)
                )
            score = plan.scores.values[chosen.index] if plan.scores is not None else None
            items.append(GalleryItem(chosen.why, score, view, tuple(shown)))
        scored_by = plan.scores.metric if plan.scores is not None else ""
        galleries[stem] = RunGallery(tuple(items), scored_by, bool(data), missing)
    return galleries
