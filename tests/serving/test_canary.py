"""A weighted alias served: routing by caller key, the version that answered, listing, batching, hot reload."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapterhub.inference.hub import ALIAS_RECHECK_S
from adapterhub.registry import Registry
from adapterhub.registry.aliases import Split
from tests.inference.helpers import publish_adapter


@pytest.fixture
def canary(registry: Registry, tiny_bert: Path, tiny_gpt2: Path) -> Registry:
    """sentiment@1/@2 split 0.5/0.5 as sentiment:prod, poet@1/@2 split 0.5/0.5 as poet:prod."""
    publish_adapter(registry, tiny_bert, "sentiment", seed=11)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=12)
    registry.tag_weighted({"sentiment@1": 0.5, "sentiment@2": 0.5}, "prod")
    registry.tag_weighted({"poet@1": 0.5, "poet@2": 0.5}, "prod")
    return registry


def _version(key: str, alias: str = "sentiment:prod") -> str:
    name = alias.split(":")[0]
    return f"{name}@{Split.of({1: 0.5, 2: 0.5}).route(alias, key)}"


def test_a_request_key_keeps_one_version_and_each_caller_gets_its_own(
    canary: Registry, serve: Callable[..., Any]
) -> None:
    with serve() as client:
        for key in ("alice", "bob"):
            answered = {
                client.post(
                    "/v1/predict", json={"adapter": "sentiment:prod", "inputs": ["x"]}, headers={"X-Request-Key": key}
                ).json()["adapter"]
                for _ in range(100)
            }
            assert answered == {_version(key)}
        seen = set()
        for i in range(40):
            body = client.post(
                "/v1/predict", json={"adapter": "sentiment:prod", "inputs": ["x"]}, headers={"X-Request-Key": f"k{i}"}
            ).json()
            assert body["adapter"] == body["results"][0]["adapter"] == _version(f"k{i}")
            seen.add(body["adapter"])
        assert seen == {"sentiment@1", "sentiment@2"}


def test_the_openai_user_routes_a_weighted_model_and_the_answer_names_the_version(
    canary: Registry, serve: Callable[..., Any]
) -> None:
    with serve() as client:
        for user in ("u1", "u2", "u3", "u4"):
            for _ in range(3):
                body = {"model": "poet:prod", "prompt": "the sea", "max_tokens": 2, "temperature": 0, "user": user}
                response = client.post("/v1/completions", json=body)
                assert response.status_code == 200 and response.json()["model"] == _version(user, "poet:prod")
        headers = {"X-Request-Key": "u1"}  # the header wins over `user`
        body = {"model": "poet:prod", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "user": "u2"}
        assert client.post("/v1/chat/completions", json=body, headers=headers).json()["model"] == _version(
            "u1", "poet:prod"
        )


def test_the_adapter_list_shows_the_split(canary: Registry, client: Any) -> None:
    listed = {a["ref"]: a for a in client.get("/v1/adapters").json()["adapters"]}
    assert listed["sentiment@1"]["aliases"] == ["prod"] and listed["sentiment@1"]["alias_weights"] == {"prod": 0.5}
    assert listed["sentiment@2"]["alias_weights"] == {"prod": 0.5} and listed["topic@1"]["alias_weights"] == {}


def test_many_callers_of_one_weighted_alias_share_one_batch(canary: Registry, serve: Callable[..., Any]) -> None:
    keys = [f"caller-{i}" for i in range(8)]
    assert {_version(k) for k in keys} == {"sentiment@1", "sentiment@2"}
    answers: dict[str, str] = {}
    with serve(max_batch=8, max_wait_ms=5000) as client:
        client.post("/v1/predict", json={"adapter": "sentiment@1", "inputs": ["warm"]})
        client.post("/v1/predict", json={"adapter": "sentiment@2", "inputs": ["warm"]})

        def call(key: str) -> None:
            body = {"adapter": "sentiment:prod", "inputs": ["x"]}
            answers[key] = client.post("/v1/predict", json=body, headers={"X-Request-Key": key}).json()["adapter"]

        threads = [threading.Thread(target=call, args=(k,)) for k in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        metrics = client.get("/metrics").text
    assert answers == {k: _version(k) for k in keys}
    batches = [line for line in metrics.splitlines() if line.startswith("adapterhub_batch_size_count")]
    assert batches == ["adapterhub_batch_size_count 3.0"]  # two warm-ups, then all eight callers in one batch


def test_a_retag_by_another_process_is_served_within_the_stated_bound(
    registry: Registry, serve: Callable[..., Any], tiny_bert: Path
) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=11)
    registry.tag("sentiment@1", "prod")
    request = {"adapter": "sentiment:prod", "inputs": ["x"]}
    with serve() as client:
        assert client.post("/v1/predict", json=request).json()["adapter"] == "sentiment@1"
        hub = [sys.executable, "-m", "adapterhub", "--registry", str(registry.root), "tag"]
        subprocess.run([*hub, "sentiment@1=0.5", "sentiment@2=0.5", "prod"], check=True, capture_output=True)
        time.sleep(ALIAS_RECHECK_S + 0.2)
        answered = {
            client.post("/v1/predict", json=request, headers={"X-Request-Key": k}).json()["adapter"]
            for k in ("k1", "k2", "k3", "k4", "k5", "k6")
        }
        assert answered == {"sentiment@1", "sentiment@2"}
        subprocess.run([*hub, "sentiment@2", "prod"], check=True, capture_output=True)
        time.sleep(ALIAS_RECHECK_S + 0.2)
        assert client.post("/v1/predict", json=request).json()["adapter"] == "sentiment@2"
