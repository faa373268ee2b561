"""The native API end to end through an in-process client: predict, adapters, load/unload, health, metrics."""

from __future__ import annotations

import shutil
import threading
import time

from fastapi.testclient import TestClient

from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.serving.schemas import PredictResponse
from tests.inference.helpers import publish_adapter


def test_health_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "hot": 0, "queue": 0}


def test_predict_returns_what_the_hub_returns_for_every_task(client: TestClient, registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    texts = ["a fine day in paris", "an awful long film"]
    response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": texts})
    assert response.status_code == 200, response.text
    body = response.json()
    PredictResponse.model_validate(body)  # the documented schema is what comes back
    assert body["adapter"] == "sentiment@1"
    expected = hub.predict(texts, adapter="sentiment")
    assert [r["label"] for r in body["results"]] == [e.label for e in expected]
    for got, want in zip(body["results"], expected, strict=True):
        assert got["type"] == "classification" and got["adapter"] == "sentiment@1"
        assert got["scores"].keys() == want.scores.keys()
        assert all(abs(got["scores"][k] - v) < 1e-6 for k, v in want.scores.items())

    body = client.post("/v1/predict", json={"adapter": "topic@1", "inputs": ["x y"]}).json()
    assert body["results"][0]["label"] in ("a", "b", "c")

    body = client.post("/v1/predict", json={"adapter": "ner", "inputs": ["anna flew to paris"]}).json()
    PredictResponse.model_validate(body)
    result = body["results"][0]
    assert result["type"] == "entities" and result["words"] == ["anna", "flew", "to", "paris"]
    want = hub.predict("anna flew to paris", adapter="ner")
    assert result["tags"] == list(want.tags) and len(result["entities"]) == len(want.entities)

    options = {"max_new_tokens": 5, "temperature": 0}
    body = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["the sea"], "options": options}).json()
    PredictResponse.model_validate(body)
    result = body["results"][0]
    want = hub.predict("the sea", adapter="poet", max_new_tokens=5)
    assert result["type"] == "generation" and result["text"] == want.text and result["tokens"] == want.tokens
    assert result["prompt_tokens"] == want.prompt_tokens > 0


def test_adapters_lists_cards_and_residency(client: TestClient) -> None:
    body = client.get("/v1/adapters").json()
    by_ref = {a["ref"]: a for a in body["adapters"]}
    assert set(by_ref) == {"sentiment@1", "topic@1", "ner@1", "poet@1"} and body["next"] is None
    assert by_ref["sentiment@1"]["labels"] == ["negative", "positive"]
    assert by_ref["sentiment@1"]["card"] is None  # whole cards only when asked for
    with_cards = {a["ref"]: a for a in client.get("/v1/adapters", params={"cards": "true"}).json()["adapters"]}
    assert with_cards["sentiment@1"]["card"]["task"] == "sentiment"
    assert all(a["resident"] is None for a in body["adapters"])
    assert len(by_ref["sentiment@1"]["content_hash"]) == 64

    loaded = client.post("/v1/adapters/sentiment/load")
    assert loaded.status_code == 200
    assert loaded.json() == {
        "ref": "sentiment@1",
        "content_hash": by_ref["sentiment@1"]["content_hash"],
        "resident": "hot",
    }
    body = client.get("/v1/adapters", params={"task": "sentiment"}).json()
    assert [(a["ref"], a["resident"]) for a in body["adapters"]] == [("sentiment@1", "hot")]
    assert client.get("/health").json()["hot"] == 1

    unloaded = client.delete("/v1/adapters/sentiment")
    assert unloaded.status_code == 200 and unloaded.json() == {"unloaded": ["sentiment@1"]}
    assert client.get("/health").json()["hot"] == 0
    again = client.delete("/v1/adapters/sentiment")
    assert again.status_code == 404 and "not loaded" in again.json()["error"]["message"]


def test_metrics_count_requests_latency_batches_queue_and_residents(client: TestClient) -> None:
    client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["one", "two", "three"]})
    client.post("/v1/predict", json={"adapter": "nope", "inputs": ["one"]})
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'adapterhub_requests_total{route="/v1/predict",status="200"} 1.0' in text
    assert 'adapterhub_requests_total{route="/v1/predict",status="404"} 1.0' in text
    assert 'adapterhub_request_seconds_count{route="/v1/predict"} 2.0' in text
    assert 'adapterhub_batch_size_bucket{le="4.0"} 1.0' in text and 'adapterhub_batch_size_bucket{le="2.0"} 0.0' in text
    assert "adapterhub_inputs_total 3.0" in text
    assert "adapterhub_queue_depth 0.0" in text
    assert 'adapterhub_resident_adapters{state="hot"} 1.0' in text


def test_concurrent_requests_for_different_adapters_run_as_one_batch(serve, registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    requests = [("sentiment", "a fine day"), ("topic", "b c"), ("ner", "anna in rome"), ("sentiment", "bad")]
    responses: dict[int, dict] = {}
    with serve(max_wait_ms=400, max_batch=32) as client:
        for adapter in ("sentiment", "topic", "ner"):
            client.post(f"/v1/adapters/{adapter}/load")

        def call(i: int) -> None:
            adapter, text = requests[i]
            responses[i] = client.post("/v1/predict", json={"adapter": adapter, "inputs": [text]}).json()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        metrics = client.get("/metrics").text
    assert "adapterhub_batch_size_count 1.0" in metrics  # four requests, three adapters: one forward batch
    assert 'adapterhub_batch_size_bucket{le="2.0"} 0.0' in metrics
    for i, (adapter, text) in enumerate(requests):
        alone = hub.predict(text, adapter=adapter).to_dict()
        got = responses[i]["results"][0]
        got.pop("type")
        if "scores" in alone:
            assert got["label"] == alone["label"]
            assert all(abs(got["scores"][k] - v) < 1e-5 for k, v in alone["scores"].items())
        else:
            assert got["tags"] == alone["tags"]


def test_a_new_version_swaps_in_under_traffic_without_a_failed_request(client: TestClient, registry, tiny_bert) -> None:
    client.post("/v1/adapters/sentiment/load")
    statuses: list[int] = []
    served: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["a fine day"]})
            statuses.append(response.status_code)
            if response.status_code == 200:
                served.append(response.json()["adapter"])

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    publish_adapter(registry, tiny_bert, "sentiment", seed=7)  # sentiment@2, other weights
    assert client.post("/v1/adapters/sentiment/load").json()["ref"] == "sentiment@2"
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert statuses and set(statuses) == {200}
    assert served[0] == "sentiment@1" and served[-1] == "sentiment@2"
    assert sorted(set(served)) == ["sentiment@1", "sentiment@2"]
    fresh = Hub(registry, device="cpu").predict("a fine day", adapter="sentiment@2")
    body = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["a fine day"]}).json()
    assert abs(body["results"][0]["score"] - fresh.score) < 1e-6


def test_a_reloaded_name_never_serves_stale_weights(client: TestClient, registry, tiny_bert) -> None:
    """The same reference re-published with other bytes (a registry rebuilt): identity is the content hash."""
    first = client.post("/v1/predict", json={"adapter": "sentiment@1", "inputs": ["a fine day"]}).json()
    old_hash = client.post("/v1/adapters/sentiment@1/load").json()["content_hash"]
    shutil.rmtree(registry.root / "sentiment")
    registry.reindex()
    publish_adapter(registry, tiny_bert, "sentiment", seed=11)  # sentiment@1 again, other weights
    loaded = client.post("/v1/adapters/sentiment@1/load").json()
    assert loaded["ref"] == "sentiment@1" and loaded["content_hash"] != old_hash
    second = client.post("/v1/predict", json={"adapter": "sentiment@1", "inputs": ["a fine day"]}).json()
    fresh = Hub(registry, device="cpu").predict("a fine day", adapter="sentiment@1")
    assert abs(second["results"][0]["score"] - fresh.score) < 1e-6
    assert second["results"][0]["scores"] != first["results"][0]["scores"]


def test_an_ensemble_request_averages_its_members(client: TestClient, registry: Registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=7)
    publish_adapter(registry, tiny_bert, "sentiment", method="prefix", seed=8)
    members = ["sentiment@1", "sentiment@2", "sentiment@3"]
    texts = ["a fine day", "an awful long film"]
    response = client.post("/v1/predict", json={"adapter": members, "inputs": texts, "combine": "mean"})
    assert response.status_code == 200, response.text
    body = response.json()
    PredictResponse.model_validate(body)
    want = Hub(registry, device="cpu").predict(texts, adapter=members, combine="mean")
    assert body["adapter"] == "mean(sentiment@1,sentiment@2,sentiment@3)"
    for got, expected in zip(body["results"], want, strict=True):
        assert got["label"] == expected.label
        assert all(abs(got["scores"][k] - v) < 1e-5 for k, v in expected.scores.items())

    for payload, status, message in (
        ({"adapter": ["sentiment@1", "topic"], "combine": "mean"}, 422, "disagree on labels"),
        ({"adapter": ["sentiment@1", "ner"], "combine": "mean"}, 422, "ner@1 is a ner adapter"),
        ({"adapter": ["sentiment@1", "sentiment@2"]}, 422, 'needs "adapter" to be a list'),
        ({"adapter": "sentiment", "combine": "mean"}, 422, 'needs "adapter" to be a list'),
        ({"adapter": ["sentiment@1", "nope"], "combine": "mean"}, 404, "nope"),
        ({"adapter": ["sentiment@1", "sentiment@2"], "combine": "max"}, 422, "combine"),
    ):
        response = client.post("/v1/predict", json={"inputs": texts, **payload})
        assert response.status_code == status, (payload, response.text)
        error = response.json()["error"]
        assert message in error["message"] or error["param"] == message, (payload, error)
