"""``diffusers``: any text-to-image ``DiffusionPipeline``, from a local directory (saved
with ``save_pretrained``) or a hub id. Each prompt gets its own ``torch.Generator`` seeded
with the item's seed, so an image does not depend on its batch. Under ``torchrun`` each
rank loads the pipeline on its own GPU and draws its share of the prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.fingerprint import directory_fingerprint, text_fingerprint
from muge_eval.t2i.adapters.base import GeneratorAdapter

DTYPES = ("float32", "float16", "bfloat16")


class DiffusersGenerator(GeneratorAdapter):
    def __init__(
        self,
        pipeline: str,
        revision: str | None = None,
        steps: int = 50,
        guidance_scale: float = 7.5,
        height: int | None = None,
        width: int | None = None,
        negative_prompt: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
    ):
        import torch
        from diffusers import DiffusionPipeline

        from muge_eval.models.torch_utils import resolve_device

        if dtype not in DTYPES:
            raise UsageError(f"diffusers: dtype must be one of {', '.join(DTYPES)}")
        self.device = resolve_device(device)  # device=cuda without a GPU fails here, before loading
        self.source = pipeline
        self.local = Path(pipeline).expanduser().is_dir()
        self.revision = revision
        self.settings: dict[str, Any] = {
            "steps": steps,
            "guidance_scale": guidance_scale,
            "height": height,
            "width": width,
            "negative_prompt": negative_prompt,
            "dtype": dtype,
        }
        kwargs: dict[str, Any] = {"torch_dtype": getattr(torch, dtype)}
        if revision:
            kwargs["revision"] = revision
        try:
            self.pipe = DiffusionPipeline.from_pretrained(
                str(Path(pipeline).expanduser()) if self.local else pipeline, **kwargs
            )
        except (OSError, ValueError) as exc:
            raise UsageError(f"diffusers: cannot load pipeline {pipeline!r}: {exc}") from exc
        self.pipe = self.pipe.to(self.device)
        if hasattr(self.pipe, "set_progress_bar_config"):
            self.pipe.set_progress_bar_config(disable=True)
        self._fingerprint = (
            directory_fingerprint(Path(pipeline).expanduser())
            if self.local
            else text_fingerprint("hub", pipeline, revision or "main")
        )

    def fingerprint(self) -> str | None:
        return self._fingerprint

    def protocol(self) -> dict[str, object]:
        return {"pipeline": type(self.pipe).__name__, **self.settings}

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        import torch

        generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
        kwargs: dict[str, Any] = {
            "prompt": prompts,
            "generator": generators,
            "num_inference_steps": self.settings["steps"],
            "guidance_scale": self.settings["guidance_scale"],
            "output_type": "pil",
        }
        for key in ("height", "width"):
            if self.settings[key] is not None:
                kwargs[key] = self.settings[key]
        if self.settings["negative_prompt"] is not None:
            kwargs["negative_prompt"] = [self.settings["negative_prompt"]] * len(prompts)
        with torch.no_grad():
            result = self.pipe(**kwargs)
        images: list[Image.Image] = list(result.images)
        return images
