"""The ``t2i`` task type: MUGE ECommerce-T2I."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.io.atomic import atomic_open
from muge_eval.io.image_tsv import encode_base64, open_image
from muge_eval.models.args import FALSE_WORDS, TRUE_WORDS, parse_key_values
from muge_eval.models.base import GENERATION, ModelAdapter
from muge_eval.progress import Progress
from muge_eval.specs import DatasetInfo, MetricInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.t2i.adapters.base import GeneratorAdapter, item_seed
from muge_eval.t2i.adapters.predictions import PredictionsGenerator
from muge_eval.t2i.cache import GenerationStore
from muge_eval.t2i.gold import T2IGold, description_file, load_gold, real_images_beside
from muge_eval.t2i.scoring import ImageSource, ScoringSettings, score_images
from muge_eval.t2i.submission import T2ISubmission, parse_image_size, read_submission
from muge_eval.t2i.weights import muge_cache_root
from muge_eval.tasktypes.base import TaskType

PREDICTIONS_FILE = "predictions.tsv"
METRICS = {
    "fid": MetricInfo(False, "score", "Fréchet Inception Distance to the real images (lower is better)"),
    "is_mean": MetricInfo(True, "score", "Inception Score, mean over 10 splits"),
    "is_std": MetricInfo(False, "score", "Inception Score, standard deviation over 10 splits"),
    "clip_score": MetricInfo(True, "score", "100 x max(cosine, 0) between description and image, judged"),
    "r_precision": MetricInfo(True, "percent", "own description ranked first among 100, judged"),
}


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in TRUE_WORDS | FALSE_WORDS:
        return text in TRUE_WORDS
    raise UsageError(f"{name} must be true or false, got {value!r}")


def write_submission_tsv(ids: Sequence[str], read_png: Any) -> Any:
    """A PredictionFile writer: ``img_id<TAB>base64 PNG`` lines in gold order."""

    def write(path: Path) -> None:
        with atomic_open(path) as handle:
            for image_id in ids:
                handle.write(f"{image_id}\t{encode_base64(read_png(image_id))}\n")

    return write


class T2ITask(TaskType):
    type_name = "t2i"
    capability = GENERATION
    accepted_options: ClassVar[Mapping[str, str]] = {
        "inception_weights": "path of pt_inception-2015-12-05-6726825d.pth (FID Inception weights)",
        "allow_nonstandard_weights": "true to compute FID/IS with weights that are not the published file",
        "resize": "Inception preprocessing: pytorch-fid (default) or pil-bicubic",
        "device": "device for the Inception network: auto, cpu, cuda",
        "judge": "retrieval model for clip_score and r_precision (any `muge-eval models` retrieval adapter)",
        "judge_args": "the judge's arguments, k=v,k2=v2",
        "image_size": "expected submission image size: N, WxH or any",
        "real_images": "real image TSV when it is not beside the descriptions",
        "stats_dir": "directory of cached real-image FID statistics (npz)",
        "generation_dir": "directory of generated images (resumable cache)",
    }

    # --- settings -------------------------------------------------------------
    def _option(self, name: str, default: Any = None) -> Any:
        if name in self.options:
            return self.options[name]
        return self.card.options.get(name, default)

    def settings(self, batch_size: int = 32, seed: int = 1234, cache_dir: Path | None = None) -> ScoringSettings:
        stats_dir = self._option("stats_dir")
        return ScoringSettings(
            inception_weights=self._option("inception_weights"),
            allow_nonstandard_weights=_bool(
                self._option("allow_nonstandard_weights", False), "allow_nonstandard_weights"
            ),
            resize=str(self._option("resize", "pytorch-fid")),
            device=str(self._option("device", "auto")),
            judge=self._option("judge"),
            judge_args=parse_key_values(self._option("judge_args"), "--judge-args"),
            stats_dir=Path(stats_dir).expanduser() if stats_dir else (cache_dir / "fid-stats" if cache_dir else None),
            batch_size=batch_size,
            seed=seed,
        )

    def _gold_for(self, split: str, data_dir: Path | None, gold_path: Path | None) -> T2IGold:
        self.check_split(split)
        if gold_path is None:
            directory = self.data_dir(data_dir)
            if directory is None:
                raise UsageError(f"task {self.card.name!r} has no bundled data: pass --gold or --data-dir")
            gold_path = description_file(directory, split)
        real = self._option("real_images")
        real_path = Path(real).expanduser() if real else real_images_beside(gold_path)
        return load_gold(gold_path, real_path)

    # --- scoring a submission -------------------------------------------------
    def load_gold(self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None) -> T2IGold:
        return self._gold_for(split, data_dir, gold_path)

    def read_submission(self, gold: T2IGold, path: Path, direction: str | None) -> T2ISubmission:
        return read_submission(path, gold.ids, parse_image_size(self._option("image_size", "any")))

    def _outcome(
        self, gold: T2IGold, source: ImageSource, settings: ScoringSettings, progress: Progress, split: str
    ) -> TaskOutcome:
        started = time.perf_counter()
        parts = score_images(gold, source, settings, progress)
        samples = tuple({"img_id": i, "description": gold.texts[i], **parts.per_item.get(i, {})} for i in gold.ids)
        info = DatasetInfo(
            source=f"local:{Path(gold.file).parent}",
            format=self.card.data.format,
            split=split,
            fingerprint=gold.fingerprint,
            num_items={"descriptions": len(gold.ids)},
            files=tuple(p.name for p in (Path(gold.file), gold.real_images) if p is not None),
        )
        return TaskOutcome(
            dataset=info,
            metrics=parts.metrics,
            metric_info=METRICS,
            main_metric=self.card.main_metric,
            protocol=parts.protocol,
            samples=samples if parts.per_item else (),
            timings={**parts.timings, "score_s": time.perf_counter() - started},
            notes=tuple(parts.notes),
        )

    def score(self, gold: T2IGold, submission: T2ISubmission) -> TaskOutcome:
        return self._outcome(gold, submission.iter_images, self.settings(), Progress(quiet=True), "")

    # --- evaluating a generator ------------------------------------------------
    def _store(self, model: GeneratorAdapter, config: RunConfig) -> GenerationStore:
        configured = self._option("generation_dir")
        root = (
            Path(configured).expanduser() if configured else (config.cache_dir or muge_cache_root()) / "t2i-generations"
        )
        model_key = model.fingerprint() or f"{type(model).__module__}.{type(model).__qualname__}"
        return GenerationStore(root, model_key, model.protocol())

    def _generate(
        self, model: GeneratorAdapter, gold: T2IGold, config: RunConfig, progress: Progress
    ) -> tuple[GenerationStore, dict[str, int], int]:
        store = self._store(model, config)
        seeds = {i: item_seed(config.seed, i) for i in gold.ids}
        todo = [i for i in gold.ids if not store.has(gold.texts[i], seeds[i])]
        bar = progress.bar(len(todo), "generate", "image")
        for start in range(0, len(todo), config.batch_size):
            chunk = todo[start : start + config.batch_size]
            prompts = [gold.texts[i] for i in chunk]
            images = model.generate_items(chunk, prompts, [seeds[i] for i in chunk])
            if len(images) != len(chunk) or not all(isinstance(im, Image.Image) for im in images):
                raise UsageError(f"generator returned {len(images)} objects for {len(chunk)} prompts (want PIL images)")
            for image_id, image in zip(chunk, images, strict=True):
                store.put(gold.texts[image_id], seeds[image_id], image)
            bar.update(len(chunk))
        bar.close()
        return store, seeds, len(gold.ids) - len(todo)

    def _size_notes(self, paths: Sequence[Path]) -> list[str]:
        """A note when generated sizes differ from the size the card's submissions expect."""
        expected = parse_image_size(self._option("image_size", "any"))
        if expected is None:
            return []
        sizes: dict[tuple[int, int], int] = {}
        for path in paths:
            with Image.open(path) as image:  # reads the header only
                sizes[image.size] = sizes.get(image.size, 0) + 1
        other = {size: n for size, n in sizes.items() if size != expected}
        if not other:
            return []
        listed = ", ".join(f"{n} at {w}x{h}" for (w, h), n in sorted(other.items()))
        return [f"generated images are not {expected[0]}x{expected[1]} ({listed}): validate will flag the submission"]

    def evaluate(self, model: ModelAdapter, config: RunConfig, progress: Progress) -> TaskOutcome:
        if not isinstance(model, GeneratorAdapter):
            raise UsageError(f"{type(model).__name__} does not implement the generator protocol")
        self.check_split(config.split)
        started = time.perf_counter()
        gold = self._gold_for(config.split, config.data_dir, None).limited(config.limit)
        settings = self.settings(config.batch_size, config.seed, config.cache_dir)
        timings = {"load_s": time.perf_counter() - started}
        notes: list[str] = []
        if isinstance(model, PredictionsGenerator):
            model.attach(gold.ids)
            submission = model._submission
            assert submission is not None
            source: ImageSource = submission.iter_images

            read_png = submission.raw_bytes

        else:
            started = time.perf_counter()
            store, seeds, reused = self._generate(model, gold, config, progress)
            timings["generate_s"] = time.perf_counter() - started
            if reused:
                notes.append(f"{reused} image(s) reused from {store.root} (same model, prompt, seed, settings)")
            notes.extend(self._size_notes([store.path(gold.texts[i], seeds[i]) for i in gold.ids]))

            def read_png(image_id: str) -> bytes:
                return store.path(gold.texts[image_id], seeds[image_id]).read_bytes()

            def source(ids: Sequence[str]) -> Iterator[tuple[str, Image.Image]]:
                for image_id in ids:
                    path = store.path(gold.texts[image_id], seeds[image_id])
                    yield image_id, open_image(path.read_bytes(), str(path))

        outcome = self._outcome(gold, source, settings, progress, config.split)
        protocol = {**outcome.protocol, "seeds": "per item: sha256(run seed, img_id), first 31 bits"}
        prediction = PredictionFile(PREDICTIONS_FILE, "text_to_image", write_submission_tsv(gold.ids, read_png))
        return TaskOutcome(
            dataset=outcome.dataset,
            metrics=outcome.metrics,
            metric_info=outcome.metric_info,
            main_metric=outcome.main_metric,
            protocol=protocol,
            samples=outcome.samples,
            predictions=(prediction,),
            timings={**timings, **outcome.timings},
            notes=tuple(notes) + outcome.notes,
        )
