"""``openai-images``: an OpenAI-compatible ``POST {base_url}/images/generations`` endpoint
answering ``{"data": [{"b64_json": ...}]}``.

One request per prompt (``n=1``). The key comes from ``api_key`` or the environment
variable named by ``api_key_env`` (default ``OPENAI_API_KEY``) and is never recorded. The
official OpenAI API takes no seed; ``send_seed=true`` adds ``"seed"`` for servers that do.
"""

from __future__ import annotations

import binascii
import io

from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.io.image_tsv import decode_base64
from muge_eval.t2i.generators.base import GeneratorAdapter
from muge_eval.t2i.generators.http_client import HTTPRequestError, JsonHttpClient, resolve_api_key


class OpenAIImagesGenerator(GeneratorAdapter):
    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        size: str = "256x256",
        quality: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        send_seed: bool = False,
        timeout_s: float = 120.0,
        max_retries: int = 4,
    ):
        key = resolve_api_key(api_key, api_key_env)
        if key is None and base_url.startswith("https://api.openai.com"):
            raise UsageError(f"openai-images: no API key (set {api_key_env} or pass api_key=...)")
        self.model = model
        self.size = size
        self.quality = quality
        self.send_seed = send_seed
        self.base_url = base_url
        self.client = JsonHttpClient(base_url, key, timeout_s, max_retries)

    def fingerprint(self) -> str | None:
        return text_fingerprint("openai-images", self.base_url.rstrip("/"), self.model)

    def protocol(self) -> dict[str, object]:
        return {
            "endpoint": self.base_url.rstrip("/") + "/images/generations",
            "model": self.model,
            "size": self.size,
            "quality": self.quality,
            "seed_sent": self.send_seed,
        }

    def _one(self, prompt: str, seed: int) -> Image.Image:
        payload: dict[str, object] = {
            "model": self.model,
            "prompt": prompt,
            "n": 1,
            "size": self.size,
            "response_format": "b64_json",
        }
        if self.quality:
            payload["quality"] = self.quality
        if self.send_seed:
            payload["seed"] = seed
        answer = self.client.post_json("/images/generations", payload)
        try:
            encoded = answer["data"][0]["b64_json"]
            image = Image.open(io.BytesIO(decode_base64(encoded)))
            image.load()
        except (KeyError, IndexError, TypeError) as exc:
            raise HTTPRequestError(f"{self.base_url}: expected {{'data': [{{'b64_json': ...}}]}}") from exc
        except (binascii.Error, ValueError, OSError) as exc:
            raise HTTPRequestError(f"{self.base_url}: b64_json is not a readable image ({exc})") from exc
        return image

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        return [self._one(p, s) for p, s in zip(prompts, seeds, strict=True)]
