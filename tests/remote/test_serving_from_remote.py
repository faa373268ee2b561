"""Serving from a remote: a Hub (and `hub serve --remote`) pulls what its local registry lacks, verified, once per
reference and outside the lock other adapters' requests need; the load route rolls a newly pushed version; a
corrupt or unreachable remote fails only the request that needed it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapterhub.errors import AdapterNotFound, IncompatibleAdapter
from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.remote import Remote, add_remote, push
from adapterhub.remote import tier as tier_module
from adapterhub.remote.catalog import blob_key
from adapterhub.serving import ServeConfig, create_app
from tests.inference.helpers import publish_adapter
from tests.remote.conftest import catalog, corrupt_object, free_port
from tests.serving.test_process import _server as hub_serve_process

TEXTS = ["a gripping, beautifully acted drama", "dull and long"]


@pytest.fixture
def trainer(tmp_path: Path, tiny_bert: Path, remote: Remote) -> Registry:
    """The training machine's registry: sentiment@1 published and pushed to ``remote``."""
    registry = Registry(tmp_path / "trainer")
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    push(registry, catalog(remote), ["sentiment"])
    return registry


@pytest.fixture
def server_registry(tmp_path: Path, remote: Remote) -> Registry:
    """The serving machine's registry: empty but for ``remote`` configured as origin."""
    registry = Registry(tmp_path / "server")
    add_remote(registry.root, remote)
    return registry


@contextmanager
def serving(registry: Registry, **settings: Any) -> Iterator[TestClient]:
    """An in-process server on ``registry`` with ``--remote origin``, lifespan included."""
    config = ServeConfig(registry=str(registry.root), remote="origin", device="cpu", **settings)
    with TestClient(create_app(config.make_hub(), config), base_url="http://127.0.0.1:8000") as client:
        yield client


def scores(answer: dict[str, Any]) -> list[dict[str, float]]:
    return [r["scores"] for r in answer["results"]]


def expected(registry: Registry, ref: str) -> list[dict[str, float]]:
    """What a Hub on a local copy answers for TEXTS with ``ref``."""
    return [r.scores for r in Hub(registry, device="cpu").predict(TEXTS, adapter=ref)]


def assert_close(got: list[dict[str, float]], want: list[dict[str, float]]) -> None:
    assert [sorted(g) for g in got] == [sorted(w) for w in want]
    for g, w in zip(got, want, strict=True):
        for label in w:
            assert g[label] == pytest.approx(w[label], abs=1e-5)


@pytest.fixture
def held_pulls(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event, list[str]]:
    """Every pull waits for ``release`` after setting ``started``; ``calls`` records each pulled reference."""
    started, release, calls = threading.Event(), threading.Event(), []
    real = tier_module.pull_version

    def held(registry, remote, name, version, report=None):
        calls.append(f"{name}@{version}")
        started.set()
        assert release.wait(30), "the test never released the pull"
        return real(registry, remote, name, version, report)

    monkeypatch.setattr(tier_module, "pull_version", held)
    return started, release, calls


def test_the_server_answers_for_an_adapter_only_the_remote_holds(trainer: Registry, server_registry: Registry) -> None:
    with serving(server_registry) as client:
        listed = client.get("/v1/adapters").json()
        assert (listed["adapters"], listed["remote"]) == ([], "origin")  # the list says what it covers
        answer = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS})
        assert answer.status_code == 200, answer.text
        assert answer.json()["adapter"] == "sentiment@1"
        assert_close(scores(answer.json()), expected(trainer, "sentiment@1"))
        listed = client.get("/v1/adapters").json()["adapters"]
        assert [(a["ref"], a["resident"]) for a in listed] == [("sentiment@1", "hot")]
    # pulled into the local registry under its own number, byte for byte the trainer's version
    assert server_registry.get("sentiment@1").card.content_hash == trainer.get("sentiment@1").card.content_hash
    assert server_registry.verify() == []


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_hub_serve_remote_as_a_process_answers_for_an_adapter_only_the_remote_holds(
    trainer: Registry, server_registry: Registry
) -> None:
    """Two worker processes, each pulling on its own: concurrent first requests all get the remote's version
    (a worker that finds the version adopted by the other meanwhile takes it as present)."""
    import httpx

    def ask(url: str) -> httpx.Response:
        return httpx.post(f"{url}/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS}, timeout=60)

    with (
        hub_serve_process(server_registry, "--remote", "origin", "--workers", "2", key=None) as (_, url),
        ThreadPoolExecutor(4) as pool,
    ):
        answers = list(pool.map(ask, [url] * 4))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    want = expected(trainer, "sentiment@1")
    for answer in answers:
        assert answer.json()["adapter"] == "sentiment@1"
        assert_close(scores(answer.json()), want)
    assert server_registry.versions("sentiment") == [1] and server_registry.verify() == []


def test_a_hub_from_python_pulls_once_for_concurrent_requests_while_resident_adapters_keep_serving(
    trainer: Registry, server_registry: Registry, tiny_bert: Path, held_pulls
) -> None:
    started, release, calls = held_pulls
    publish_adapter(server_registry, tiny_bert, "resident", seed=5)
    hub = Hub(server_registry.root, device="cpu", remote="origin")  # the name kept in the registry's remotes
    assert hub.remote is not None and hub.remote.remote.name == "origin"
    before = hub.predict(TEXTS, adapter="resident")
    answers: dict[int, Any] = {}

    def ask(i: int) -> None:
        answers[i] = hub.predict(TEXTS, adapter="sentiment")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    assert started.wait(30)
    # the pull is under way (held): another adapter's prediction does not wait for it
    during = hub.predict(TEXTS, adapter="resident")
    assert all(t.is_alive() for t in threads) and not release.is_set()
    assert [r.scores for r in during] == [r.scores for r in before]
    release.set()
    for thread in threads:
        thread.join(60)
    assert calls == ["sentiment@1"]  # two requests, one pull
    want = expected(trainer, "sentiment@1")
    for got in answers.values():
        assert {r.adapter for r in got} == {"sentiment@1"}
        assert_close([r.scores for r in got], want)


def test_the_load_route_rolls_a_newly_pushed_version_and_a_moved_alias(
    trainer: Registry, server_registry: Registry, remote: Remote, tiny_bert: Path
) -> None:
    catalog(remote).tag("sentiment@1", "prod")
    with serving(server_registry) as client:
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS}).json()["adapter"] == (
            "sentiment@1"
        )
        publish_adapter(trainer, tiny_bert, "sentiment", seed=2)  # the training machine publishes @2 and pushes
        push(trainer, catalog(remote), ["sentiment@2"])
        # a bare name stays pinned to the version it resolved to until it is loaded again
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS}).json()["adapter"] == (
            "sentiment@1"
        )
        loaded = client.post("/v1/adapters/sentiment/load")
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["ref"] == "sentiment@2"
        assert loaded.json()["content_hash"] == trainer.get("sentiment@2").card.content_hash
        answer = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS}).json()
        assert answer["adapter"] == "sentiment@2"
        assert_close(scores(answer), expected(trainer, "sentiment@2"))
        # an alias is read on the remote anew
        assert client.post("/v1/adapters/sentiment:prod/load").json()["ref"] == "sentiment@1"
        catalog(remote).tag("sentiment@2", "prod")
        assert client.post("/v1/adapters/sentiment:prod/load").json()["ref"] == "sentiment@2"
        answer = client.post("/v1/predict", json={"adapter": "sentiment:prod", "inputs": TEXTS}).json()
        assert answer["adapter"] == "sentiment@2"
    assert server_registry.aliases("sentiment") == {"prod": 2}


def test_an_alias_moved_on_the_remote_is_followed_without_a_restart(
    trainer: Registry, server_registry: Registry, remote: Remote, tiny_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tier_module, "FOLLOW_S", 0.2)
    publish_adapter(trainer, tiny_bert, "sentiment", seed=2)
    push(trainer, catalog(remote), ["sentiment@2"])
    catalog(remote).tag("sentiment@1", "prod")
    with serving(server_registry) as client:

        def served() -> str:
            return client.post("/v1/predict", json={"adapter": "sentiment:prod", "inputs": TEXTS}).json()["adapter"]

        assert served() == "sentiment@1"
        catalog(remote).tag("sentiment@2", "prod")  # a training machine moves the alias: no call to this server
        deadline = time.monotonic() + 0.2 + 1.0 + 10  # the follow interval, the alias recheck, the pull (slack)
        while served() != "sentiment@2":
            assert time.monotonic() < deadline, "the moved alias was never followed"
            time.sleep(0.1)
        answer = client.post("/v1/predict", json={"adapter": "sentiment:prod", "inputs": TEXTS}).json()
        assert_close(scores(answer), expected(trainer, "sentiment@2"))
    assert server_registry.aliases("sentiment") == {"prod": 2}


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_a_corrupt_remote_object_is_a_409_while_another_adapter_keeps_serving(
    trainer: Registry, server_registry: Registry, remote: Remote, tiny_bert: Path, held_pulls
) -> None:
    started, release, _ = held_pulls
    weights = trainer.get("sentiment@1").card.files["adapter_model.safetensors"]
    corrupt_object(remote, blob_key(weights.sha256), lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:])
    publish_adapter(server_registry, tiny_bert, "resident", seed=5)
    local_before = sorted(str(p.relative_to(server_registry.root)) for p in server_registry.root.rglob("*"))
    with serving(server_registry, adapters=("resident",)) as client:
        resident = client.post("/v1/predict", json={"adapter": "resident", "inputs": TEXTS}).json()
        refused: dict[str, Any] = {}

        def ask() -> None:
            refused["answer"] = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS})

        thread = threading.Thread(target=ask)
        thread.start()
        assert started.wait(30)
        during = client.post("/v1/predict", json={"adapter": "resident", "inputs": TEXTS})  # while it pulls
        assert during.status_code == 200 and thread.is_alive()
        assert scores(during.json()) == scores(resident)
        release.set()
        thread.join(60)
        answer = refused["answer"]
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert error["type"] == "adapter_corrupt"
        assert "\n" not in error["message"]
        assert "adapter_model.safetensors" in error["message"] and "sentiment@1" in error["message"]
        after = client.post("/v1/predict", json={"adapter": "resident", "inputs": TEXTS})
        assert after.status_code == 200 and scores(after.json()) == scores(resident)
    assert server_registry.names() == ["resident"]
    # nothing of the refused version stayed behind (the index may be rewritten, the rest is as it was); its files
    # that did verify wait in the download cache for a later pull, never as a version
    local_after = sorted(str(p.relative_to(server_registry.root)) for p in server_registry.root.rglob("*"))
    assert [p for p in local_after if "sentiment" in p] == []
    assert {p for p in set(local_after) - set(local_before) if not p.startswith(".downloads")} <= {".staging"}


def test_an_adapter_on_neither_side_is_a_404_naming_both(trainer: Registry, server_registry: Registry) -> None:
    with serving(server_registry) as client:
        answer = client.post("/v1/predict", json={"adapter": "ghost", "inputs": TEXTS})
        assert answer.status_code == 404, answer.text
        message = answer.json()["error"]["message"]
        assert "local registry" in message and "remote origin" in message and "ghost" in message
        assert client.post("/v1/adapters/ghost/load").status_code == 404
    with pytest.raises(AdapterNotFound, match=r"neither in the local registry .* nor on remote origin"):
        Hub(server_registry, device="cpu", remote="origin").predict("x", adapter="ghost")


def test_an_unreachable_remote_is_a_503_naming_the_endpoint_and_resident_adapters_keep_serving(
    tmp_path: Path, tiny_bert: Path
) -> None:
    registry = Registry(tmp_path / "cut-off")
    publish_adapter(registry, tiny_bert, "resident", seed=5)
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    add_remote(registry.root, Remote("origin", "s3://team/adapters", endpoint_url=endpoint))
    hub = Hub(registry, device="cpu", remote="origin")
    config = ServeConfig(registry=str(registry.root))
    with TestClient(create_app(hub, config), base_url="http://127.0.0.1:8000") as client:
        # an adapter the local registry holds is served without asking the remote
        assert client.post("/v1/predict", json={"adapter": "resident", "inputs": TEXTS}).status_code == 200
        started = time.monotonic()
        answer = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS})
        assert time.monotonic() - started < 20  # a few connection attempts, no retry storm
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["type"] == "remote_unavailable" and endpoint in error["message"] and "\n" not in error["message"]
        assert client.post("/v1/predict", json={"adapter": "resident", "inputs": TEXTS}).status_code == 200


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_hub_serve_remote_refuses_an_unknown_remote_or_adapter_before_the_base_loads(
    hub: Callable[..., tuple[int, str, str]], trainer: Registry, server_registry: Registry
) -> None:
    reg = str(server_registry.root)
    code, _, err = hub("--registry", reg, "serve", "--remote", "upstream")
    assert code == 3 and err.startswith("error: no remote named 'upstream'")
    code, _, err = hub("--registry", reg, "serve", "--remote", "origin", "--adapter", "ghost")
    assert code == 3 and "neither in the local registry" in err and "nor on remote origin" in err
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    add_remote(server_registry.root, Remote("dead", "s3://team/adapters", endpoint_url=endpoint))
    started = time.monotonic()
    code, _, err = hub("--registry", reg, "serve", "--remote", "dead")
    assert (code, err.count("\n")) == (8, 1) and err.startswith("error: cannot reach remote") and endpoint in err
    assert time.monotonic() - started < 20
    assert ServeConfig.from_json(ServeConfig(remote="origin").to_json()).remote == "origin"  # reaches workers


def test_a_pulled_version_is_checked_against_its_base_before_it_is_served(
    server_registry: Registry, remote: Remote, tmp_path: Path, tiny_bert: Path
) -> None:
    """A version whose card records another base fingerprint than its base's is pulled (its files are what the
    card lists) but refused when loaded, as a local one would be."""
    trainer = Registry(tmp_path / "elsewhere")
    record, _ = publish_adapter(trainer, tiny_bert, "sentiment", seed=1)
    card = json.loads((record.path / "card.json").read_text())
    card["base"]["fingerprint"] = "sha256:" + "0" * 64  # as if trained on another base of the same name
    (record.path / "card.json").write_text(json.dumps(card))
    push(trainer, catalog(remote), ["sentiment@1"])
    with pytest.raises(IncompatibleAdapter, match="cannot run on this base"):
        Hub(server_registry, device="cpu", remote="origin").predict("x", adapter="sentiment")
    with serving(server_registry) as client:
        answer = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": TEXTS})
        assert (answer.status_code, answer.json()["error"]["type"]) == (409, "adapter_incompatible")
