"""The ``t2i`` task type: MUGE ECommerce-T2I."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from muge_eval.cache import cache_dir
from muge_eval.cards import describe_local_source
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import directory_fingerprint, files_fingerprint, text_fingerprint
from muge_eval.io.atomic import atomic_open
from muge_eval.io.image_tsv import encode_base64
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.args import parse_key_values
from muge_eval.models.base import GENERATION
from muge_eval.progress import Progress
from muge_eval.specs import DatasetInfo, PredictionFile, RunConfig, TaskOutcome
from muge_eval.t2i.adapters.base import GeneratorAdapter, item_seed
from muge_eval.t2i.adapters.predictions import PredictionsGenerator
from muge_eval.t2i.cache import GenerationStore
from muge_eval.t2i.cmmd import ESTIMATORS
from muge_eval.t2i.generation import generate_missing, plan_generation
from muge_eval.t2i.gold import T2IGold, description_file, load_gold, real_images_beside
from muge_eval.t2i.inception import RESIZE_MODES
from muge_eval.t2i.metrics import t2i_metric_specs
from muge_eval.t2i.readiness import PRDC_FEATURES, MetricPlan, PlanRequest, plan_metrics
from muge_eval.t2i.scoring import GeneratedImages, Prepared, ScoringSettings, prepare, score_images
from muge_eval.t2i.submission import T2ISubmission, parse_image_size, read_submission
from muge_eval.tasktypes.base import SubmissionFormat, TaskType
from muge_eval.tasktypes.options import TaskOption, as_bool, as_path, as_str, one_of

PREDICTIONS_FILE = "predictions.tsv"


def write_submission_tsv(ids: Sequence[str], read_png: Any) -> Any:
    """A PredictionFile writer: ``img_id<TAB>base64 PNG`` lines in gold order."""

    def write(path: Path) -> None:
        with atomic_open(path) as handle:
            for image_id in ids:
                handle.write(f"{image_id}\t{encode_base64(read_png(image_id))}\n")

    return write


def _image_size(value: Any) -> tuple[int, int] | None:
    try:
        return parse_image_size(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def submission_images(submission: T2ISubmission) -> GeneratedImages:
    """A checked submission's images, read by img_id."""
    path = submission.path
    fingerprint = directory_fingerprint(path, ("*.png",)) if path.is_dir() else files_fingerprint([path])
    return GeneratedImages(submission.raw_bytes, fingerprint, str(path))


class T2ITask(TaskType):
    name = "t2i"
    summary = (
        "text-to-image: FID, IS, KID, precision/recall (FID Inception), FD-DINOv2, and CLIP score, "
        "R-precision, CMMD (judged by a retrieval model)"
    )
    capability = GENERATION
    adapter_protocols = (GeneratorAdapter,)
    data_formats = ("muge-t2i",)
    directions = ("text_to_image",)
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption(
            "inception_weights",
            "path of pt_inception-2015-12-05-6726825d.pth (FID Inception weights)",
            as_str,
            flag="--inception-weights",
        ),
        TaskOption(
            "dinov2_weights",
            "DINOv2 ViT-L/14 for fd_dinov2: a transformers directory or torch.hub's dinov2_vitl14_pretrain.pth",
            as_str,
            flag="--dinov2-weights",
        ),
        TaskOption(
            "allow_nonstandard_weights",
            "true to compute Inception/DINOv2 metrics with weights that are not the published networks",
            as_bool,
            False,
        ),
        TaskOption(
            "resize",
            f"Inception preprocessing: {', '.join(RESIZE_MODES)} (default pytorch-fid)",
            one_of(*RESIZE_MODES),
            "pytorch-fid",
        ),
        TaskOption(
            "device",
            "device of the feature networks: auto, cpu, cuda (default: the run's --device)",
            as_str,
            "auto",
        ),
        TaskOption(
            "judge",
            "retrieval model for clip_score, r_precision and cmmd (any `muge-eval models` retrieval adapter)",
            as_str,
            flag="--judge",
        ),
        TaskOption("judge_args", "the judge's arguments, k=v,k2=v2", as_str, "", flag="--judge-args"),
        TaskOption(
            "cmmd_estimator",
            f"CMMD estimator: {', '.join(ESTIMATORS)} (default reference: the published code's)",
            one_of(*ESTIMATORS),
            "reference",
        ),
        TaskOption(
            "prdc_features",
            f"features of precision/recall/density/coverage: {', '.join(PRDC_FEATURES)} (default inception)",
            one_of(*PRDC_FEATURES),
            "inception",
        ),
        TaskOption(
            "image_size", "expected submission image size: N, WxH or any", _image_size, None, flag="--image-size"
        ),
        TaskOption("real_images", "real image TSV when it is not beside the descriptions", as_path),
        TaskOption("stats_dir", "directory of cached real-image features and statistics (npz)", as_path),
        TaskOption("generation_dir", "directory of generated images (resumable cache)", as_path),
    )
    run_features = frozenset({"decode_workers", "embedding_cache"})
    submission_formats = (
        SubmissionFormat("muge-t2i-tsv", PREDICTIONS_FILE, "img_id<TAB>base64 PNG per description"),
        SubmissionFormat("png-dir", "<dir>/<img_id>.png", "a directory of one PNG per description"),
    )
    identity_protocol_keys = (
        "inception.resize",
        "inception.resolution",
        "inception.weights_sha256",
        "dinov2.weights_sha256",
        "cmmd.estimator",
        "kid.subset_size",
        "prdc.features",
    )
    item_key = "img_id"

    @classmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        return t2i_metric_specs()

    # --- settings -------------------------------------------------------------------
    def scoring_settings(self, config: RunConfig | None = None) -> ScoringSettings:
        device = self.settings["device"]
        if device == "auto" and config is not None and config.device:
            device = config.device
        return ScoringSettings(
            resize=self.settings["resize"],
            device=device,
            judge_args=parse_key_values(self.settings["judge_args"], "--judge-args"),
            cmmd_estimator=self.settings["cmmd_estimator"],
            stats_dir=self.settings["stats_dir"],
            batch_size=(config.batch_size or 32) if config else 32,
            seed=config.seed if config else 1234,
            cache_root=config.cache_dir if config else None,
            use_embedding_cache=config.use_embedding_cache if config else True,
            num_workers=config.num_workers if config else None,
            chunk_rows=config.chunk_rows if config else 2048,
        )

    def _real_images_for(self, descriptions: Path) -> Path | None:
        configured = self.settings["real_images"]
        if configured is not None and not configured.is_file():
            raise InputError([Problem(str(configured), "real image file not found")], "missing file")
        return configured if configured else real_images_beside(descriptions)

    def _gold_for(self, split: str, data_dir: Path | None, gold_path: Path | None) -> T2IGold:
        self.check_split(split)
        if gold_path is None:
            gold_path = description_file(self.require_data_dir(data_dir), split)
        return load_gold(gold_path, self._real_images_for(gold_path))

    def metric_plan(self, real_images: Path | None) -> MetricPlan:
        """Which selected metrics run, and each input they need, found and checked (once
        per task instance: weights are hashed once, not at every check)."""
        memo: dict[Path | None, MetricPlan] = self.__dict__.setdefault("_plans", {})
        if real_images not in memo:
            memo[real_images] = self._make_plan(real_images)
        return memo[real_images]

    def _make_plan(self, real_images: Path | None) -> MetricPlan:
        own = {spec.name for spec in self.metric_specs()}
        request = PlanRequest(
            selected=tuple(m for m in self.selected_metrics if m in own),
            explicit=tuple(m for m in self.settings["metrics"] or () if m in own),
            inception_weights=self.settings["inception_weights"],
            dinov2_weights=self.settings["dinov2_weights"],
            allow_nonstandard_weights=self.settings["allow_nonstandard_weights"],
            judge=self.settings["judge"],
            real_images=real_images,
            prdc_features=self.settings["prdc_features"],
        )
        return plan_metrics(request, self.registries)

    # --- scoring a submission -------------------------------------------------------
    def load_gold(self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None) -> T2IGold:
        return self._gold_for(split, data_dir, gold_path)

    def read_submission(self, gold: T2IGold, path: Path, direction: str | None) -> T2ISubmission:
        return read_submission(path, gold.ids, self.settings["image_size"])

    def _outcome(
        self,
        gold: T2IGold,
        source: GeneratedImages,
        prepared: Prepared,
        settings: ScoringSettings,
        progress: Progress,
        split: str,
    ) -> TaskOutcome:
        started = time.perf_counter()
        parts = score_images(gold, source, prepared, settings, progress)
        samples = tuple({"img_id": i, "description": gold.texts[i], **parts.per_item.get(i, {})} for i in gold.ids)
        info = DatasetInfo(
            source=describe_local_source(Path(gold.file).parent),
            format=self.card.data.format,
            split=split,
            fingerprint=gold.fingerprint,
            num_items={"descriptions": len(gold.ids)},
            files=tuple(p.name for p in (Path(gold.file), gold.real_images) if p is not None),
        )
        return TaskOutcome(
            dataset=info,
            metrics=parts.metrics,
            protocol=parts.protocol,
            samples=samples if parts.per_item else (),
            timings={**parts.timings, "score_s": time.perf_counter() - started},
            notes=tuple(parts.notes),
        )

    def _score(self, gold: T2IGold, submission: T2ISubmission) -> TaskOutcome:
        settings = self.scoring_settings()
        progress = Progress(quiet=True)
        prepared = prepare(self.metric_plan(gold.real_images), settings, self.registries, progress)
        return self._outcome(gold, submission_images(submission), prepared, settings, progress, "")

    # --- evaluating a generator -----------------------------------------------------
    def check_ready(self, config: RunConfig) -> None:
        """Before any model is built: the descriptions and real images are there, and every
        input of the selected metrics is found and checked (see ``readiness``)."""
        super().check_ready(config)
        descriptions = description_file(self.require_data_dir(config.data_dir), config.split)
        self.metric_plan(self._real_images_for(descriptions))

    def _store(self, model: GeneratorAdapter, config: RunConfig) -> GenerationStore:
        configured = self.settings["generation_dir"]
        root = configured or cache_dir("t2i-generations", config.cache_dir)
        model_key = model.fingerprint() or f"{type(model).__module__}.{type(model).__qualname__}"
        return GenerationStore(root, model_key, model.protocol())

    def _generate(
        self, model: GeneratorAdapter, gold: T2IGold, config: RunConfig, progress: Progress
    ) -> tuple[GenerationStore, dict[str, int], int]:
        store = self._store(model, config)
        seeds = {i: item_seed(config.seed, i) for i in gold.ids}
        plan = plan_generation(store, gold.ids, gold.texts, seeds, config.batch_size or 32)
        generate_missing(model, store, plan, gold.texts, seeds, progress)
        return store, seeds, len(gold.ids) - plan.missing

    def _size_notes(self, paths: Sequence[Path]) -> list[str]:
        """A note when generated sizes differ from the size the card's submissions expect."""
        expected = self.settings["image_size"]
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

    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        assert isinstance(model, GeneratorAdapter)
        started = time.perf_counter()
        gold = self._gold_for(config.split, config.data_dir, None).limited(config.limit)
        settings = self.scoring_settings(config)
        plan = self.metric_plan(gold.real_images)
        for note in plan.notes:
            progress.message(f"note: {note}")
        if not plan.compute:
            progress.message("note: none of the selected metrics can be computed; only the images are produced")
        # Load the networks and the judge now: a wrong file fails before any image is drawn.
        prepared = prepare(plan, settings, self.registries, progress)
        timings = {"load_s": time.perf_counter() - started}
        notes: list[str] = []
        if isinstance(model, PredictionsGenerator):
            submission = model.attach(gold.ids)
            source = submission_images(submission)
        else:
            started = time.perf_counter()
            store, seeds, reused = self._generate(model, gold, config, progress)
            timings["generate_s"] = time.perf_counter() - started
            if reused:
                notes.append(f"{reused} image(s) reused from {store.root} (same model, prompt, seed, settings)")
            notes.extend(self._size_notes([store.path(gold.texts[i], seeds[i]) for i in gold.ids]))

            def read_png(image_id: str) -> bytes:
                return store.path(gold.texts[image_id], seeds[image_id]).read_bytes()

            keys = [store.key(gold.texts[i], seeds[i]) for i in gold.ids]
            source = GeneratedImages(read_png, text_fingerprint(json.dumps(keys)), str(store.root))
        outcome = self._outcome(gold, source, prepared, settings, progress, config.split)
        protocol = {**outcome.protocol, "seeds": "per item: sha256(run seed, img_id), first 31 bits"}
        prediction = PredictionFile(PREDICTIONS_FILE, "text_to_image", write_submission_tsv(gold.ids, source.read))
        return TaskOutcome(
            dataset=outcome.dataset,
            metrics=outcome.metrics,
            protocol=protocol,
            samples=outcome.samples,
            predictions=(prediction,),
            timings={**timings, **outcome.timings},
            notes=tuple(notes) + outcome.notes,
        )
