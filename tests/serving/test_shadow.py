"""Shadow versions: the shadow rides in its primary's batch, is compared, and never changes what the client gets."""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from adapterhub.inference import Hub
from adapterhub.inference.host import Host
from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter

TEXTS = [f"text number {i} with {'x' * (i % 5)} words {chr(97 + i % 26)}" for i in range(24)]


def _metric(client: TestClient, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name}{{{wanted}}} in /metrics")


@pytest.fixture
def shifted(registry: Registry, tiny_bert: Path) -> dict[str, Any]:
    """sentiment@2: sentiment@1 with the positive logit lowered by a margin chosen so that about half of TEXTS
    change label, far from any input's own margin (so float noise flips none); and which of TEXTS do."""
    record, model = publish_adapter(registry, tiny_bert, "sentiment", seed=1)  # sentiment@2 while being made
    alone = Hub(registry, device="cpu").predict(TEXTS, adapter=record.ref)
    margins = sorted(math.log(r.scores["positive"] / r.scores["negative"]) for r in alone)
    middle = range(len(margins) // 4, 3 * len(margins) // 4)
    gap, i = max((margins[i + 1] - margins[i], i) for i in middle)
    assert gap > 1e-3
    shift = (margins[i] + margins[i + 1]) / 2
    bias = dict(model.named_parameters())["base_model.model.classifier.modules_to_save.default.1.bias"]
    with torch.no_grad():
        bias[1] -= shift
    with tempfile.TemporaryDirectory() as out:
        model.save_pretrained(out, save_embedding_layers=False)
        shadow = registry.publish("sentiment", out, record.card)
    return {"primary": record.ref, "shadow": shadow.ref}


def _alone(registry: Registry, adapter: str, texts: list[str], **options: Any) -> list[Any]:
    return Hub(registry, device="cpu").predict(texts, adapter=adapter, **options)


def _predict(client: TestClient, adapter: str, texts: list[str], **body: Any) -> list[dict[str, Any]]:
    response = client.post("/v1/predict", json={"adapter": adapter, "inputs": texts, **body})
    assert response.status_code == 200, response.text
    _idle(client)
    return response.json()["results"]


def _idle(client: TestClient) -> None:
    """Wait until the batcher has nothing running: a shadow is compared after its primary has answered."""
    deadline = time.monotonic() + 30
    while client.app.state.server.batcher.depth:
        assert time.monotonic() < deadline, "the batcher never went idle"
        time.sleep(0.01)


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k != "scores" and k != "score"} == {
            k: v for k, v in y.items() if k != "scores" and k != "score"
        }
        for label, p in x.get("scores", {}).items():
            assert y["scores"][label] == pytest.approx(p, abs=1e-5)


# ------------------------------------------------------------------------------------------ answers unchanged


@pytest.mark.parametrize(
    ("adapter", "task", "body"),
    [
        ("sentiment", "sentiment", {}),
        ("ner", "ner", {}),
        ("poet", "generate", {"options": {"max_new_tokens": 6}}),
    ],
)
def test_the_primary_answers_the_same_with_and_without_a_shadow(
    serve: Callable[..., Any], registry: Registry, tiny_bert: Path, tiny_gpt2: Path, adapter: str, task: str, body: Any
) -> None:
    base = tiny_gpt2 if task == "generate" else tiny_bert
    publish_adapter(registry, base, adapter, task=task, seed=11)  # version 2: other weights
    texts = ["the sea at night", "a quiet room", "an old song on the radio"]
    with serve() as client:
        without = _predict(client, f"{adapter}@1", texts, **body)
    with serve(shadows=(f"{adapter}@1={adapter}@2",)) as client:
        with_shadow = _predict(client, f"{adapter}@1", texts, **body)
        assert _metric(client, "adapterhub_shadow_total", primary=f"{adapter}@1", shadow=f"{adapter}@2") == 3
        assert _metric(client, "adapterhub_shadow_errors_total", primary=f"{adapter}@1", shadow=f"{adapter}@2") == 0
    assert {r["adapter"] for r in with_shadow} == {f"{adapter}@1"}  # the shadow never answers
    _same(without, with_shadow)


# ------------------------------------------------------------------------------------------ agreement


def test_the_disagreement_counter_matches_a_hand_count(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    mine, theirs = _alone(registry, primary, TEXTS), _alone(registry, shadow, TEXTS)
    disagreeing = [t for t, a, b in zip(TEXTS, mine, theirs, strict=True) if a.label != b.label]
    difference = sum(abs(a.scores["positive"] - b.scores["positive"]) for a, b in zip(mine, theirs, strict=True))
    assert 0 < len(disagreeing) < len(TEXTS)  # a set where some agree and some do not
    with serve(shadows=(f"{primary}={shadow}",), shadow_samples=100) as client:
        for start in range(0, len(TEXTS), 5):  # several requests, several batches
            _predict(client, primary, TEXTS[start : start + 5])
        labels = {"primary": primary, "shadow": shadow}
        assert _metric(client, "adapterhub_shadow_total", **labels) == len(TEXTS)
        assert _metric(client, "adapterhub_shadow_disagreements_total", **labels) == len(disagreeing)
        assert _metric(client, "adapterhub_shadow_probability_difference_count", **labels) == len(TEXTS)
        assert _metric(client, "adapterhub_shadow_probability_difference_sum", **labels) == pytest.approx(
            difference, abs=1e-4
        )
        report = client.get(f"/v1/shadows/{primary}").json()
    assert report["total"] == len(TEXTS) and report["disagreements"] == len(disagreeing)
    assert report["disagreement_rate"] == pytest.approx(len(disagreeing) / len(TEXTS))
    assert report["mean_probability_difference"] == pytest.approx(difference / len(TEXTS), abs=1e-5)
    assert sorted(s["input"] for s in report["samples"]) == sorted(disagreeing)
    assert all(s["primary"] != s["shadow"] for s in report["samples"])


def test_samples_are_off_by_default_and_bounded(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    with serve(shadows=(f"{primary}={shadow}",)) as client:
        _predict(client, primary, TEXTS)
        report = client.get(f"/v1/shadows/{primary}").json()
        assert report["disagreements"] > 2 and report["samples"] == []
    with serve(shadows=(f"{primary}={shadow}",), shadow_samples=2) as client:
        for text in TEXTS:
            _predict(client, primary, [text])
        report = client.get(f"/v1/shadows/{primary}").json()
    mine, theirs = _alone(registry, primary, TEXTS), _alone(registry, shadow, TEXTS)
    last = [t for t, a, b in zip(TEXTS, mine, theirs, strict=True) if a.label != b.label][-2:]
    assert [s["input"] for s in report["samples"]] == last[::-1]  # the last two, newest first


def test_ner_and_generation_disagree_on_tags_and_text(
    serve: Callable[..., Any], registry: Registry, tiny_bert: Path, tiny_gpt2: Path
) -> None:
    publish_adapter(registry, tiny_bert, "ner", task="ner", seed=12)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=13)
    texts = ["the sea at night", "a quiet room", "an old song on the radio", "rain"]
    ner1, ner2 = _alone(registry, "ner@1", texts), _alone(registry, "ner@2", texts)
    poet1, poet2 = (_alone(registry, f"poet@{v}", texts, max_new_tokens=6) for v in (1, 2))
    tags = [a.tags != b.tags for a, b in zip(ner1, ner2, strict=True)]
    words = [a.text != b.text for a, b in zip(poet1, poet2, strict=True)]
    with serve(shadows=("ner@1=ner@2", "poet@1=poet@2")) as client:
        _predict(client, "ner@1", texts)
        _predict(client, "poet@1", texts, options={"max_new_tokens": 6})
        ner, poet = client.get("/v1/shadows/ner@1").json(), client.get("/v1/shadows/poet@1").json()
    assert (ner["total"], ner["disagreements"], ner["mean_probability_difference"]) == (4, sum(tags), None)
    assert (poet["total"], poet["disagreements"]) == (4, sum(words))
    assert sum(tags) > 0 and sum(words) > 0  # the counts above are not zero by accident


def test_a_shadow_of_an_alias_follows_requests_that_name_the_alias(
    serve: Callable[..., Any], registry: Registry, tiny_bert: Path, tiny_gpt2: Path
) -> None:
    """An alias runs on the exact version it resolves to (a canary's pick), and an OpenAI request on the exact
    version of the name it gives: the shadow follows the reference the client named all the same."""
    for version in (2, 3):
        publish_adapter(registry, tiny_bert, "sentiment", seed=20 + version)
    registry.tag_weighted({"sentiment@1": 0.5, "sentiment@2": 0.5}, "prod")
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=14)
    texts = ["the sea at night", "a quiet room"]
    with serve(shadows=("sentiment:prod=sentiment@3", "poet=poet@1")) as client:
        answered = {_predict(client, "sentiment:prod", texts)[0]["adapter"] for _ in range(6)}
        completion = client.post("/v1/completions", json={"model": "poet", "prompt": texts[0], "max_tokens": 4})
        assert completion.status_code == 200, completion.text
        _idle(client)
        assert _metric(client, "adapterhub_shadow_total", primary="sentiment:prod", shadow="sentiment@3") == 12
        assert _metric(client, "adapterhub_shadow_total", primary="poet", shadow="poet@1") == 1
    assert answered <= {"sentiment@1", "sentiment@2"}  # the split answers, never the shadow


# ------------------------------------------------------------------------------------------ one forward pass


def test_the_shadow_rides_in_the_same_batch_and_forward_pass(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    passes: list[list[str]] = []
    classify = Host._classify

    def counted(self: Host, batch: Any) -> Any:
        passes.append(sorted({item.adapter.record.ref for item in batch}))
        return classify(self, batch)

    monkeypatch.setattr(Host, "_classify", counted)
    with serve(shadows=(f"{primary}={shadow}",), max_batch=8) as client:
        hub = client.app.state.server.hub
        calls: list[list[str]] = []
        predict = hub.predict

        def recorded(texts: Any, adapter: Any = None, **options: Any) -> Any:
            calls.append(list(adapter))
            return predict(texts, adapter, **options)

        hub.predict = recorded
        passes.clear()
        texts = ["same length a", "same length b", "same length c"]  # one length: padding cuts nothing
        _predict(client, primary, texts)
    assert calls == [[primary] * 3 + [shadow] * 3]  # one call: the primary's rows, then the shadow's
    assert passes == [sorted([primary, shadow])]  # one forward pass holds both


# ------------------------------------------------------------------------------------------ failures


def test_a_shadow_that_raises_leaves_the_primary_intact(
    serve: Callable[..., Any],
    registry: Registry,
    shifted: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    with serve() as client:
        expected = _predict(client, primary, TEXTS[:6])
    real = Hub.predict

    def broken(self: Hub, inputs: Any, adapter: Any = None, **options: Any) -> Any:
        adapters = [adapter] if isinstance(adapter, str) else list(adapter)
        if shadow in adapters:
            raise RuntimeError("shadow exploded")
        return real(self, inputs, adapter, **options)

    monkeypatch.setattr(Hub, "predict", broken)
    with caplog.at_level(logging.WARNING, "adapterhub.serving"), serve(shadows=(f"{primary}={shadow}",)) as client:
        first = _predict(client, primary, TEXTS[:3])
        second = _predict(client, primary, TEXTS[3:6])
        labels = {"primary": primary, "shadow": shadow}
        assert _metric(client, "adapterhub_shadow_errors_total", **labels) == 6
        assert _metric(client, "adapterhub_shadow_total", **labels) == 0
        report = client.get(f"/v1/shadows/{primary}").json()
    _same(expected, first + second)
    assert report["errors"] == 6 and report["status"] == "running"
    logged = [r for r in caplog.records if "shadow exploded" in r.getMessage()]
    assert len(logged) == 1  # once per kind of error, however often it happens


def test_a_shadow_whose_files_fail_to_load_is_counted_and_the_primary_serves(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    weights = registry.get(shadow).path / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # a flipped byte: its sha256 no longer matches
    with serve() as client:
        expected = _predict(client, primary, TEXTS[:4])
    with serve(shadows=(f"{primary}={shadow}",)) as client:
        got = _predict(client, primary, TEXTS[:4])
        report = client.get(f"/v1/shadows/{primary}").json()
        errors = _metric(client, "adapterhub_shadow_errors_total", primary=primary, shadow=shadow)
    _same(expected, got)
    assert report["status"] == "failed" and "sha256" in report["failure"]
    assert (report["errors"], errors) == (4, 4)


def test_a_failed_shadow_is_reported_by_what_failed_never_by_where_the_server_keeps_it(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    (registry.get(shadow).path / "adapter_model.safetensors").unlink()
    with serve(shadows=(f"{primary}={shadow}",)) as client:
        report = client.get(f"/v1/shadows/{primary}").json()
        listed = client.get("/v1/shadows").json()["shadows"]
    assert report["status"] == "failed" and listed[0]["failure"] == report["failure"]
    assert report["failure"].startswith(f"{shadow}: cannot read adapter_model.safetensors (No such file"), report
    assert str(registry.root) not in report["failure"] and " /" not in report["failure"]


# ------------------------------------------------------------------------------------------ the routes


def test_shadows_are_attached_listed_reported_and_detached_at_run_time(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    registry.tag(primary, "prod")
    auth = {"Authorization": "Bearer k"}
    with serve(api_key="k") as client:
        assert client.post("/v1/shadows", json={"primary": "sentiment:prod", "shadow": shadow}).status_code == 401
        attached = client.post("/v1/shadows", headers=auth, json={"primary": "sentiment:prod", "shadow": shadow})
        assert attached.status_code == 200, attached.text
        assert attached.json()["primary_version"] == primary and attached.json()["shadow"] == shadow
        _predict_auth = client.post(
            "/v1/predict", headers=auth, json={"adapter": "sentiment:prod", "inputs": TEXTS[:5]}
        )
        assert _predict_auth.status_code == 200
        _ = client.post("/v1/predict", headers=auth, json={"adapter": primary, "inputs": TEXTS[:5]})  # not named
        _idle(client)
        listed = client.get("/v1/shadows", headers=auth).json()["shadows"]
        assert [(s["primary"], s["shadow"], s["total"]) for s in listed] == [("sentiment:prod", shadow, 5)]
        assert client.get("/v1/shadows/sentiment:prod", headers=auth).json()["total"] == 5
        again = client.post("/v1/shadows", headers=auth, json={"primary": "sentiment:prod", "shadow": shadow})
        assert again.status_code == 409 and "has a shadow already" in again.json()["error"]["message"]
        removed = client.delete("/v1/shadows/sentiment:prod", headers=auth)
        assert removed.status_code == 200 and removed.json()["total"] == 5
        gone = client.get("/v1/shadows/sentiment:prod", headers=auth)
        assert gone.status_code == 404 and gone.json()["error"]["type"] == "shadow_not_found"
        assert client.delete("/v1/shadows/sentiment:prod", headers=auth).status_code == 404
        client.post("/v1/predict", headers=auth, json={"adapter": "sentiment:prod", "inputs": TEXTS[:5]})
        assert client.get("/v1/shadows", headers=auth).json()["shadows"] == []


def test_a_shadow_on_a_share_of_requests_runs_on_that_share_evenly_spread(
    serve: Callable[..., Any], registry: Registry, shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    registry.tag(primary, "prod")
    with serve(shadows=(f"sentiment:prod={shadow}",), shadow_share=0.25) as client:  # as --shadow-share 0.25
        counts = []
        for i in range(12):  # one request after another, 2 inputs each: every fourth runs the shadow
            answer = _predict(client, "sentiment:prod", TEXTS[2 * i : 2 * i + 2])
            assert {r["adapter"] for r in answer} == {primary}
            counts.append(client.get("/v1/shadows/sentiment:prod").json()["total"])
        assert [b - a for a, b in zip([0, *counts], counts, strict=False)] == [0, 0, 0, 2] * 3
        assert counts[-1] == 6 and client.get("/v1/shadows").json()["shadows"][0]["share"] == 0.25
        assert _metric(client, "adapterhub_shadow_total", primary="sentiment:prod", shadow=shadow) == 6
        attached = client.post("/v1/shadows", json={"primary": primary, "shadow": shadow, "share": 0.5})
        assert attached.status_code == 200 and attached.json()["share"] == 0.5
        for i in range(4):
            _predict(client, primary, TEXTS[i : i + 1])
        assert client.get(f"/v1/shadows/{primary}").json()["total"] == 2
        for share in (0, 1.5, -0.25, "half", None):
            refused = client.post("/v1/shadows", json={"primary": "sentiment@9", "shadow": shadow, "share": share})
            assert refused.status_code == 422 and "share" in refused.text, (share, refused.text)


@pytest.mark.parametrize(
    ("primary", "shadow", "status", "words"),
    [
        ("sentiment@1", "topic", 409, "a classify adapter but"),
        ("topic@1", "topic@2", 409, "has labels x, y, z but"),
        ("sentiment@1", "elsewhere", 409, "a shadow must share its primary's base"),
        ("sentiment@1", "sentiment@9", 404, "sentiment has no version 9"),
        ("sentiment@1", "nothing", 404, "no adapter named 'nothing'"),
        ("sentiment@1", "sentiment@1", 409, "a shadow must be another version"),
        ("sentiment", "sentiment@1", 409, "a shadow must be another version"),
    ],
)
def test_a_shadow_that_cannot_be_compared_is_refused_and_nothing_changes(
    serve: Callable[..., Any],
    registry: Registry,
    tiny_bert: Path,
    other_tiny_bert: Path,
    primary: str,
    shadow: str,
    status: int,
    words: str,
) -> None:
    publish_adapter(registry, tiny_bert, "topic", task="classify", labels=("x", "y", "z"), seed=5)
    publish_adapter(registry, other_tiny_bert, "elsewhere", seed=6)
    with serve() as client:
        loaded = set(client.app.state.server.hub.loaded)
        response = client.post("/v1/shadows", json={"primary": primary, "shadow": shadow})
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"]
        assert client.get("/v1/shadows").json()["shadows"] == []
        assert set(client.app.state.server.hub.loaded) == loaded  # nothing was loaded for it


def test_with_several_workers_shadows_are_set_at_start_up_only(
    serve: Callable[..., Any], shifted: dict[str, Any]
) -> None:
    primary, shadow = shifted["primary"], shifted["shadow"]
    with serve(workers=2) as client:  # the settings each worker gets: a request reaches one of them
        response = client.post("/v1/shadows", json={"primary": primary, "shadow": shadow})
        assert response.status_code == 409 and "--shadow PRIMARY=SHADOW when the server starts" in response.text
        assert client.get("/v1/shadows").json()["shadows"] == []


def test_a_wrong_method_on_the_shadow_routes_lists_every_method_they_take(client: TestClient) -> None:
    for path, allowed in (("/v1/shadows", "GET, POST"), ("/v1/shadows/sentiment:prod", "DELETE, GET")):
        response = client.put(path)
        assert response.status_code == 405 and response.headers["allow"] == allowed
