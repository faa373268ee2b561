import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from adapterhub.base import (
    DEFAULT_BASE,
    canonical_weights,
    fingerprint,
    load_base,
    load_tokenizer,
    locate_base,
    resolve_base,
)
from adapterhub.errors import BaseNotFound


def test_fingerprint_ignores_the_task_head_and_peft_wrapping(tiny_bert: Path) -> None:
    from peft import LoraConfig, get_peft_model

    body = load_base(str(tiny_bert))
    classifier = load_base(str(tiny_bert), "SEQ_CLS", num_labels=3)
    tagger = load_base(str(tiny_bert), "TOKEN_CLS", num_labels=5)
    wrapped = get_peft_model(
        load_base(str(tiny_bert), "SEQ_CLS", 2),
        LoraConfig(task_type="SEQ_CLS", target_modules=["query", "value"], init_lora_weights=False),
    )
    prints = {fingerprint(m) for m in (body, classifier, tagger, wrapped)}
    assert len(prints) == 1 and next(iter(prints)).startswith("sha256:")
    assert set(canonical_weights(wrapped)) == set(canonical_weights(body))


def test_fingerprint_tells_weights_apart(tiny_bert: Path, other_tiny_bert: Path) -> None:
    model = load_base(str(tiny_bert))
    assert fingerprint(model) != fingerprint(load_base(str(other_tiny_bert)))
    lowered = load_base(str(tiny_bert)).to(torch.bfloat16)  # rounding changes the values
    assert fingerprint(lowered) != fingerprint(model)
    assert fingerprint(lowered) == fingerprint(lowered.to(torch.float32))  # same values, other dtype
    with torch.no_grad():
        next(iter(model.parameters()))[0, 0] += 1e-6
    assert fingerprint(model) != fingerprint(load_base(str(tiny_bert)))


def test_the_embedded_default_base_resolves_offline() -> None:
    location = Path(resolve_base(DEFAULT_BASE))
    assert (location / "model.safetensors").is_file() and (location / "config.json").is_file()
    assert resolve_base(None) == str(location)


# ------------------------------------------------------------------------------ finding a base, in seconds


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Leave offline mode and point the hub at ``endpoint`` (huggingface_hub reads both at import)."""
    from huggingface_hub import constants

    def to(endpoint: str) -> None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)

    return to


@pytest.fixture
def fake_hub() -> Iterator[tuple[str, list[str]]]:
    """A local stand-in for the hub's model API: ``org/tiny-bert`` exists, every other id is unknown. Yields its
    URL and the paths it was asked for."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path.split("?")[0])
            known = self.path.split("?")[0] == "/api/models/org/tiny-bert"
            body = json.dumps({"id": "org/tiny-bert", "sha": "0" * 40} if known else {"error": "not found"}).encode()
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/json")
            if not known:
                self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    asked: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cache_with(tmp_path: Path, repo_id: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hugging Face cache (the layout huggingface_hub writes) that holds ``model_dir`` as ``repo_id``."""
    from huggingface_hub import constants

    repo = tmp_path / "hf-cache" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("a" * 40)
    shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return snapshot


def test_a_missing_local_base_is_one_line_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for base in ("./models/my-bert", "models/a/b", str(tmp_path / "gone"), "~/no-such-base-dir"):
        with pytest.raises(BaseNotFound, match=r"does not exist.*pass a local model directory"):
            load_base(base)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaseNotFound, match=r"'empty' is a folder without config\.json"):
        load_tokenizer("empty")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BaseNotFound, match=r"is a file, not a model directory"):
        load_base("file.txt")
    assert BaseNotFound.exit_code == 3


def test_an_id_that_is_not_cached_is_refused_at_once_offline() -> None:
    start = time.monotonic()
    with pytest.raises(BaseNotFound) as caught:
        load_base("bert-base-uncasd", "SEQ_CLS", num_labels=2)
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert "'bert-base-uncasd' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in message
    assert "check the spelling" in message and DEFAULT_BASE in message and "\n" not in message


def test_an_unreachable_hub_fails_fast_without_retries(online: Callable[[str], None]) -> None:
    online(f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    with pytest.raises(BaseNotFound, match=r"cannot reach the Hugging Face Hub to find base 'bert-base-uncasd'"):
        load_tokenizer("bert-base-uncasd")
    assert time.monotonic() - start < 5  # huggingface_hub's downloads retried for about a minute


def test_the_hub_is_asked_once_whether_an_id_exists(
    online: Callable[[str], None], fake_hub: tuple[str, list[str]]
) -> None:
    url, asked = fake_hub
    online(url)
    with pytest.raises(BaseNotFound, match=r"the Hugging Face Hub has no model 'org/tiny-bret' \(nor a local"):
        locate_base("org/tiny-bret")
    assert locate_base("org/tiny-bert") == "org/tiny-bert"  # known: from_pretrained downloads it as usual
    assert locate_base("org/tiny-bert") == "org/tiny-bert"  # the tokenizer's lookup after the model's: no request
    assert asked == ["/api/models/org/tiny-bret", "/api/models/org/tiny-bert"]


def test_a_cached_id_loads_offline_and_when_the_hub_is_unreachable(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, online: Callable[[str], None]
) -> None:
    snapshot = _cache_with(tmp_path, "org/tiny-bert", tiny_bert, monkeypatch)
    assert locate_base("org/tiny-bert") == str(snapshot)
    assert fingerprint(load_base("org/tiny-bert")) == fingerprint(load_base(str(tiny_bert)))
    assert load_tokenizer("org/tiny-bert").vocab_size == 100
    online(f"http://127.0.0.1:{_closed_port()}")
    assert locate_base("org/tiny-bert") == str(snapshot)
