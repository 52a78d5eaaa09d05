"""``openai-chat``: captions from any OpenAI-compatible chat-completions server (vLLM,
SGLang, hosted Qwen-VL style APIs). Each image goes as a base64 JPEG data URL with a
Chinese instruction (the ``prompt`` model argument, else the task card's
``caption_prompt``, else a default e-commerce one); requests run concurrently with timeouts and retries (see
``muge_eval.models.http_client``). The API key is read from the environment variable
named by ``api_key_env`` and is never written anywhere."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from muge_eval.caption.adapters.base import CaptionAdapter
from muge_eval.models.http_client import HttpError, JsonHttpClient

DEFAULT_PROMPT = "请用一句简洁的中文描述这张商品图片，像电商文案一样，不要超过30个字。"
JPEG_QUALITY = 95


def image_data_url(image: Image.Image, quality: int = JPEG_QUALITY) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def message_text(answer: Any, url: str) -> str:
    """The assistant text of a chat-completions answer."""
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise HttpError(f"{url} answered without choices[0].message.content") from None
    if content is None:
        return ""
    if isinstance(content, list):  # content parts; parts that are not text are skipped
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        return "".join(text for text in texts if isinstance(text, str)).strip()
    if not isinstance(content, str):
        raise HttpError(f"{url} answered with non-text content ({type(content).__name__})")
    return content.strip()


class OpenAIChatCaptioner(CaptionAdapter):
    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        prompt: str = "",
        instruction: str = "",
        system_prompt: str = "",
        max_tokens: int = 64,
        temperature: float = 0.0,
        concurrency: int = 4,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
    ):
        self.model = model
        self.prompt = prompt or instruction or DEFAULT_PROMPT
        self.system_prompt = system_prompt
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.client = JsonHttpClient.for_adapter(
            base_url, api_key_env, timeout_s, max_retries, backoff_s, concurrency
        )

    def payload(self, image: Image.Image) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image_data_url(image)}},
                    {"type": "text", "text": self.prompt},
                ],
            }
        )
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def caption(self, images: list[Image.Image]) -> list[str]:
        answers = self.client.map_post_json("chat/completions", [self.payload(image) for image in images])
        url = self.client.url("chat/completions")
        return [message_text(answer, url) for answer in answers]

    def generation_settings(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "system_prompt": self.system_prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "image": f"RGB JPEG quality {JPEG_QUALITY} as a base64 data URL",
        }

    def cache_identity(self) -> str | None:
        return f"{self.client.base_url}|{self.model}"

    def protocol(self) -> dict[str, Any]:
        return {
            "generation": self.generation_settings(),
            "server": self.client.base_url,
            "served_model": self.model,
            "api_key": f"read from ${self.client.api_key_env}" if self.client.api_key_env else "none",
        }
