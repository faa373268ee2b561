"""Fixtures for server tests: a registry of tiny adapters and an in-process client with the app's lifespan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.serving import ServeConfig, create_app
from tests.inference.helpers import publish_adapter


@pytest.fixture
def registry(registry_dir: Path, tiny_bert: Path, tiny_gpt2: Path) -> Registry:
    """sentiment (LoRA), topic (classify, prefix, 3 labels), ner (LoRA) on a tiny BERT; poet (generate) on a
    tiny GPT-2."""
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "topic", task="classify", method="prefix", labels=("a", "b", "c"), seed=2)
    publish_adapter(registry, tiny_bert, "ner", task="ner", seed=3)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=4)
    return registry


@pytest.fixture
def serve(registry: Registry) -> Callable[..., Any]:
    """``with serve(max_batch=8) as client:`` an in-process server (lifespan included) on ``registry``."""

    @contextmanager
    def start(**settings: Any) -> Iterator[TestClient]:
        config = ServeConfig(registry=str(registry.root), **settings)
        hub = Hub(registry, device="cpu", max_adapters=config.max_adapters)
        # the Host a client of a loopback server sends (the server refuses others, see RequestGuard)
        with TestClient(create_app(hub, config), base_url="http://127.0.0.1:8000") as client:
            yield client

    return start


@pytest.fixture
def client(serve: Callable[..., Any]) -> Iterator[TestClient]:
    with serve() as client:
        yield client
