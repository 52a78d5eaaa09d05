"""``openai-images``: an OpenAI-compatible ``POST {base_url}/images/generations`` endpoint
answering ``{"data": [{"b64_json": ...}]}``.

One request per prompt (``n=1``), at most ``concurrency`` in flight, through the shared
client of `muge_eval.models.http_client` (timeouts, retries with backoff on 429 and 5xx).
The key is read from the environment variable named by ``api_key_env`` (default
``OPENAI_API_KEY``) when a request is sent, and is never stored or recorded. The official
OpenAI API takes no seed; ``send_seed=true`` adds ``"seed"`` for servers that do.
"""

from __future__ import annotations

import binascii

from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.io.image_tsv import decode_base64
from muge_eval.io.pixels import IMAGE_DECODE_ERRORS, decode_failure, decode_image
from muge_eval.models.http_client import HttpError, JsonHttpClient, api_key_from_env
from muge_eval.t2i.adapters.base import GeneratorAdapter


class OpenAIImagesGenerator(GeneratorAdapter):
    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        size: str = "256x256",
        quality: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        send_seed: bool = False,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        concurrency: int = 4,
    ):
        if api_key_from_env(api_key_env) is None and base_url.startswith("https://api.openai.com"):
            raise UsageError(f"openai-images: no API key (set {api_key_env} or pass api_key=...)")
        self.model = model
        self.size = size
        self.quality = quality
        self.send_seed = send_seed
        self.base_url = base_url
        self.client = JsonHttpClient.for_adapter(
            base_url, api_key_env, timeout_s, max_retries, backoff_s, concurrency
        )

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

    def _payload(self, prompt: str, seed: int) -> dict[str, object]:
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
        return payload

    def _image(self, answer: object) -> Image.Image:
        try:
            encoded = answer["data"][0]["b64_json"]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            raise HttpError(f"{self.base_url}: expected {{'data': [{{'b64_json': ...}}]}}") from None
        if not isinstance(encoded, str):
            raise HttpError(f"{self.base_url}: b64_json is {type(encoded).__name__}, expected a base64 string")
        try:
            data = decode_base64(encoded)
        except (binascii.Error, ValueError):
            raise HttpError(f"{self.base_url}: b64_json is not valid base64") from None
        try:
            return decode_image(data)  # within the pixel limit, every pixel decoded
        except IMAGE_DECODE_ERRORS as exc:
            raise HttpError(f"{self.base_url}: b64_json is not a readable image ({decode_failure(exc)})") from None

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        payloads = [self._payload(p, s) for p, s in zip(prompts, seeds, strict=True)]
        return [self._image(answer) for answer in self.client.map_post_json("/images/generations", payloads)]
