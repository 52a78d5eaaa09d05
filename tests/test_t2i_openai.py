"""openai-images against a local HTTP server: success, retries, errors, key handling."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from t2i_helpers import write_dataset

from muge_eval.cli.main import main
from muge_eval.errors import UsageError
from muge_eval.models.http_client import HttpError
from muge_eval.t2i.adapters.openai_images import OpenAIImagesGenerator

NO_WEIGHTS_ENV = {"MUGE_EVAL_INCEPTION_WEIGHTS": ""}


KEY_ENV = "MUGE_TEST_IMAGES_KEY"


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-secret-123")
    monkeypatch.setenv("MUGE_EVAL_CACHE", str(tmp_path / "muge-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


class _Server:
    def __init__(self, script: list[tuple[int, dict | str]]):
        self.script = script
        self.requests: list[tuple[dict, dict]] = []

    def __enter__(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((dict(self.headers), body))
                status, answer = outer.script.pop(0) if outer.script else (200, "image")
                if answer == "image":
                    buffer = io.BytesIO()
                    Image.new("RGB", (16, 16), (len(body["prompt"]), 0, 0)).save(buffer, format="PNG")
                    answer = {"data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *args: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _openai(url: str, **kwargs: object) -> OpenAIImagesGenerator:
    return OpenAIImagesGenerator(model="test-image", base_url=url, api_key_env=KEY_ENV, backoff_s=0.0, **kwargs)  # type: ignore[arg-type]


def test_openai_images_success_retries_and_key() -> None:
    server = _Server([(500, {"error": "boom"}), (429, {"error": "slow down"}), (200, "image")])
    with server as url:
        gen = _openai(url, send_seed=True)
        images = gen.generate(["红色帽子"], [42])
    assert images[0].size == (16, 16)
    assert len(server.requests) == 3
    headers, body = server.requests[-1]
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert body == {
        "model": "test-image",
        "prompt": "红色帽子",
        "n": 1,
        "size": "256x256",
        "response_format": "b64_json",
        "seed": 42,
    }
    assert "sk-secret" not in repr(vars(gen.client)) and "sk-secret" not in json.dumps(gen.protocol())


def test_openai_images_client_errors_do_not_retry() -> None:
    server = _Server([(401, {"error": "bad key"})])
    with server as url, pytest.raises(HttpError, match=r"failed with HTTP 401") as info:
        _openai(url).generate(["x"], [1])
    assert len(server.requests) == 1 and "sk-secret" not in str(info.value)
    server = _Server([(200, {"data": []})])
    with server as url, pytest.raises(HttpError, match="b64_json"):
        _openai(url).generate(["x"], [1])
    server = _Server([(503, {})] * 3)
    with server as url, pytest.raises(HttpError, match=r"failed after 3 attempt"):
        _openai(url, max_retries=2).generate(["x"], [1])


def test_openai_images_needs_a_key_for_the_official_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="no API key"):
        OpenAIImagesGenerator(model="m")


def test_run_with_openai_images_records_no_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_dataset(data, 3)
    with _Server([]) as url:
        result = CliRunner().invoke(
            main,
            [
                "--quiet",
                "run",
                "--task",
                "muge-t2i",
                "--data-dir",
                str(data),
                "--model",
                "openai-images",
                "--model-args",
                f"model=m,base_url={url},api_key_env={KEY_ENV}",
                "--judge",
                "random",
                "--output-dir",
                str(tmp_path / "run"),
            ],
            env={**NO_WEIGHTS_ENV, KEY_ENV: "sk-topsecret"},
        )
    assert result.exit_code == 0, result.output
    text = "".join(p.read_text(errors="replace") for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert "sk-topsecret" not in text and "<redacted>" in text
