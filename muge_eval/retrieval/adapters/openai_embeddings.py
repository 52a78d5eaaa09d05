"""``openai-embeddings``: a served embedding model behind an OpenAI-compatible
``/v1/embeddings`` endpoint (vLLM, SGLang, TEI, hosted APIs).

Texts go as the standard ``{"model", "input": [texts], "encoding_format": "float"}``
request (``text_input=input``), or one chat-style request each (``text_input=messages``:
``{"model", "messages": [...]}``, vLLM's chat embeddings API, for models that take an
instruction as a system message). Images have no standard field: each goes as a vLLM
chat-embeddings request, a user message with the image as a PNG data URL (lossless, so
the server decodes the very pixels muge-eval decoded) and ``image_prompt`` as a text
part when given. Requests use the shared HTTP client (timeouts, retries, bounded
concurrency); the API key is read from the environment variable named by
``api_key_env`` when a request is sent and is never recorded.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.models.base import RetrievalAdapter
from muge_eval.models.http_client import HttpError, JsonHttpClient

TEXT_INPUTS = ("input", "messages")
# Integers beyond this do not convert to a float (OverflowError).
MAX_FLOAT_INT = 2**1023


def png_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _order(rows: list[Any], url: str) -> list[Any]:
    """The rows in ``index`` order: the indices must be 0..n-1, each once (or all absent)."""
    given = [row.get("index") if isinstance(row, dict) else None for row in rows]
    if all(i is None for i in given):
        return rows
    indices = [i if type(i) is int else -1 for i in given]
    if sorted(indices) != list(range(len(rows))):
        shown = ", ".join(repr(i)[:20] for i in given[:8])
        raise HttpError(f"{url} answered with embedding indices that are not 0..{len(rows) - 1}, each once: {shown}")
    position = {index: n for n, index in enumerate(indices)}
    return [rows[position[i]] for i in range(len(rows))]


def embeddings_of(answer: Any, expected: int, url: str) -> list[list[float]]:
    """The ``data[i].embedding`` vectors of an embeddings answer, in ``index`` order; each
    a list of numbers (not booleans) that fit a float, all of one length."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        count = len(data) if isinstance(data, list) else "no"
        raise HttpError(f"{url} answered with {count} embeddings for {expected} input(s)")
    vectors: list[list[float]] = []
    for row in _order(data, url):
        vector = row.get("embedding") if isinstance(row, dict) else None
        if not isinstance(vector, list) or not vector or not all(type(v) in (int, float) for v in vector):
            raise HttpError(f"{url} answered with an embedding that is not a list of numbers")
        if vectors and len(vector) != len(vectors[0]):
            raise HttpError(f"{url} answered with embeddings of {len(vectors[0])} and {len(vector)} dimensions")
        if any(type(v) is int and abs(v) > MAX_FLOAT_INT for v in vector):
            raise HttpError(f"{url} answered with an embedding value too large for a float")
        vectors.append(vector)
    return vectors


class OpenAIEmbeddings(RetrievalAdapter):
    """Embeddings from an OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        text_input: str = "input",
        text_instruction: str = "",
        image_prompt: str = "",
        dimensions: int | None = None,
        batch_size: int | None = None,
        concurrency: int = 4,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
    ):
        if text_input not in TEXT_INPUTS:
            raise UsageError(f"text_input must be one of {', '.join(TEXT_INPUTS)}, not {text_input!r}")
        if text_instruction and text_input != "messages":
            raise UsageError("text_instruction goes as a system message: it needs text_input=messages")
        self.model = model
        self.text_input = text_input
        self.text_instruction = text_instruction
        self.image_prompt = image_prompt
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.client = JsonHttpClient.for_adapter(
            base_url, api_key_env, timeout_s, max_retries, backoff_s, concurrency
        )

    def protocol(self) -> dict[str, Any]:
        return {
            "library": "openai-compatible /v1/embeddings",
            "family": "served",
            "model": self.model,
            "base_url": self.client.base_url,
            "text_input": self.text_input,
            "text_instruction": self.text_instruction,
            "image_input": "vLLM chat embeddings: user message with a PNG data URL",
            "image_prompt": self.image_prompt,
            "dimensions": self.dimensions,
            "normalisation": "L2",
        }

    def _payload(self, **fields: Any) -> dict[str, Any]:
        payload = {"model": self.model, "encoding_format": "float", **fields}
        if self.dimensions is not None:
            payload["dimensions"] = self.dimensions
        return payload

    def _single(self, payloads: list[dict[str, Any]]) -> npt.NDArray[np.float32]:
        url = self.client.url("embeddings")
        answers = self.client.map_post_json("embeddings", payloads)
        return np.asarray([embeddings_of(a, 1, url)[0] for a in answers], dtype=np.float32)

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self.text_input == "input":
            answer = self.client.post_json("embeddings", self._payload(input=list(texts)))
            return np.asarray(embeddings_of(answer, len(texts), self.client.url("embeddings")), dtype=np.float32)
        system = [{"role": "system", "content": self.text_instruction}] if self.text_instruction else []
        messages = [[*system, {"role": "user", "content": [{"type": "text", "text": t}]}] for t in texts]
        return self._single([self._payload(messages=m) for m in messages])

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        prompt = [{"type": "text", "text": self.image_prompt}] if self.image_prompt else []
        contents = [[{"type": "image_url", "image_url": {"url": png_data_url(im)}}, *prompt] for im in images]
        return self._single([self._payload(messages=[{"role": "user", "content": c}]) for c in contents])
