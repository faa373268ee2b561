"""Per-adapter Prometheus series: labels, the cap on label values, generation timing and loads."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapterhub.registry import Registry
from adapterhub.serving.adapter_metrics import AdapterLabels, AdapterMetrics
from adapterhub.serving.config import ServeConfig
from adapterhub.serving.metrics import Metrics
from tests.inference.helpers import publish_adapter


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def _value(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    return sum(v for n, have, v in _samples(text) if n == name and labels.items() <= have.items())


def _adapter_values(text: str) -> set[str]:
    return {have["adapter"] for _, have, _ in _samples(text) if "adapter" in have}


def test_metrics_carry_adapter_version_and_task_labels(client: TestClient) -> None:
    assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["a", "b"]}).status_code == 200
    assert client.post("/v1/predict", json={"adapter": "topic", "inputs": ["c"]}).status_code == 200
    text = client.get("/metrics").text
    sentiment = {"adapter": "sentiment", "version": "1", "task": "sentiment"}
    topic = {"adapter": "topic", "version": "1", "task": "classify"}
    assert _value(text, "adapterhub_adapter_requests_total", **sentiment) == 1
    assert _value(text, "adapterhub_adapter_inputs_total", **sentiment) == 2
    assert _value(text, "adapterhub_adapter_inputs_total", **topic) == 1
    assert _value(text, "adapterhub_adapter_request_seconds_count", **sentiment) == 1
    assert _value(text, "adapterhub_adapter_request_seconds_sum", **sentiment) > 0
    assert _value(text, "adapterhub_adapter_batch_rows_total", **sentiment) == 2
    assert _value(text, "adapterhub_adapter_loads_total", **sentiment, kind="cold") == 1
    assert _value(text, "adapterhub_adapter_load_seconds_total", **sentiment, kind="cold") > 0
    assert _value(text, "adapterhub_adapter_resident", **sentiment, state="hot") == 1
    # the route-level series stay, and agree with the per-adapter ones
    assert _value(text, "adapterhub_requests_total", route="/v1/predict", status="200") == 2
    assert _value(text, "adapterhub_inputs_total") == _value(text, "adapterhub_adapter_inputs_total") == 3


def test_errors_count_under_the_adapter_that_failed(serve: Any, registry: Registry) -> None:
    weights = registry.get("topic").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with serve() as client:
        assert client.post("/v1/predict", json={"adapter": "topic", "inputs": ["x"]}).status_code == 409
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]}).status_code == 200
        text = client.get("/metrics").text
    topic = {"adapter": "topic", "version": "1", "task": "classify"}
    assert _value(text, "adapterhub_adapter_errors_total", **topic, type="adapter_corrupt") == 1
    assert _value(text, "adapterhub_adapter_requests_total", **topic) == 1
    assert _value(text, "adapterhub_adapter_inputs_total", **topic) == 0  # nothing ran
    assert _value(text, "adapterhub_adapter_errors_total", adapter="sentiment") == 0


def test_an_ensemble_counts_once_for_each_member(serve: Any, registry: Registry, tiny_bert: Any) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=7)
    with serve() as client:
        body = {"adapter": ["sentiment@1", "sentiment@2"], "combine": "mean", "inputs": ["a", "b", "c"]}
        assert client.post("/v1/predict", json=body).status_code == 200
        text = client.get("/metrics").text
    for version in ("1", "2"):  # each member ran every input, in one mixed batch
        assert _value(text, "adapterhub_adapter_requests_total", adapter="sentiment", version=version) == 1
        assert _value(text, "adapterhub_adapter_inputs_total", adapter="sentiment", version=version) == 3
        assert _value(text, "adapterhub_adapter_batch_rows_total", adapter="sentiment", version=version) == 3


def test_generation_records_tokens_seconds_and_time_to_first_token(client: TestClient) -> None:
    request = {"model": "poet", "prompt": "the sea at night", "max_tokens": 6, "temperature": 0}
    usage = client.post("/v1/completions", json=request).json()["usage"]
    assert client.post("/v1/completions", json={**request, "stream": True}).status_code == 200
    text = client.get("/metrics").text
    poet = {"adapter": "poet", "version": "1", "task": "generate"}
    assert _value(text, "adapterhub_generated_tokens_total", **poet) == 2 * usage["completion_tokens"]
    assert _value(text, "adapterhub_generation_seconds_total", **poet) > 0
    # only the streamed request has a first token a client waited for
    assert _value(text, "adapterhub_time_to_first_token_seconds_count", **poet) == 1
    first = _value(text, "adapterhub_time_to_first_token_seconds_sum", **poet)
    assert 0 < first <= _value(text, "adapterhub_adapter_request_seconds_sum", **poet)
    # classifiers carry no generation series
    assert "task" not in str(
        [h for n, h, _ in _samples(text) if n == "adapterhub_generated_tokens_total" and h["task"] != "generate"]
    )


def test_a_warm_load_is_counted_apart_from_a_cold_one(serve: Any) -> None:
    with serve(max_adapters=1) as client:
        for adapter in ("sentiment", "topic", "sentiment"):  # sentiment leaves the device for topic, then returns
            assert client.post("/v1/predict", json={"adapter": adapter, "inputs": ["x"]}).status_code == 200
        text = client.get("/metrics").text
    sentiment = {"adapter": "sentiment", "version": "1"}
    assert _value(text, "adapterhub_adapter_loads_total", **sentiment, kind="cold") == 1
    assert _value(text, "adapterhub_adapter_loads_total", **sentiment, kind="warm") == 1
    assert _value(text, "adapterhub_adapter_resident", **sentiment, state="hot") == 1
    assert _value(text, "adapterhub_adapter_resident", adapter="topic", state="warm") == 1


def test_500_adapters_keep_at_most_cap_plus_one_label_values_and_every_count() -> None:
    metrics = Metrics(max_adapters=100)
    for i in range(500):
        labels = AdapterLabels(f"a{i:03d}", "1", "sentiment" if i % 2 else "generate")
        metrics.adapters.request(labels, 3, 0.01)
        metrics.adapters.load(labels, "cold", 0.2)
        metrics.adapters.request(AdapterLabels("steady", "2", "sentiment"), 1, 0.01)  # used all along: never folded
    text = metrics.render().decode()
    values = _adapter_values(text)
    assert len(values) <= 101 and "other" in values and "steady" in values
    # the least recently used folded: "steady" and the 99 newest keep their own series
    assert "a400" not in values and {f"a{i}" for i in range(401, 500)} <= values
    # folding carried the counts: the totals are exactly what was counted
    assert _value(text, "adapterhub_adapter_requests_total") == 1000
    assert _value(text, "adapterhub_adapter_inputs_total") == 500 * 3 + 500
    assert _value(text, "adapterhub_adapter_request_seconds_count") == 1000
    assert _value(text, "adapterhub_adapter_loads_total", kind="cold") == 500
    assert _value(text, "adapterhub_adapter_requests_total", adapter="other", task="generate") == 201
    assert _value(text, "adapterhub_adapter_label_folds_total") == 401
    # the scrape's size is bounded by the cap, not by the adapters ever served
    assert len(text.splitlines()) < 60 * 101


def test_counters_never_go_down_when_a_series_is_folded() -> None:
    metrics = AdapterMetrics(max_adapters=2)
    registry = Metrics().registry
    registry.register(metrics)
    previous = 0.0
    for i in range(20):
        metrics.request(AdapterLabels(f"a{i % 5}", "1", "sentiment"), 1, 0.01)
        total = _value(_render(registry), "adapterhub_adapter_requests_total")
        assert total == previous + 1
        previous = total


def _render(registry: Any) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


def test_the_cap_holds_through_the_app(serve: Any, registry: Registry, tiny_bert: Any) -> None:
    for i in range(6):
        publish_adapter(registry, tiny_bert, f"extra{i}", seed=10 + i)
    with serve(metrics_max_adapters=3) as client:
        names = ["sentiment", "topic", "ner", *(f"extra{i}" for i in range(6))]
        for name in names:
            assert client.post("/v1/predict", json={"adapter": name, "inputs": ["x"]}).status_code == 200
        text = client.get("/metrics").text
    values = _adapter_values(text)
    assert len(values) <= 4 and "other" in values and "extra5" in values
    assert _value(text, "adapterhub_adapter_requests_total") == len(names)


def test_the_cap_is_a_setting_with_a_one_line_refusal() -> None:
    from adapterhub.errors import ConfigError

    assert ServeConfig().metrics_max_adapters == 100
    with pytest.raises(ConfigError, match="--metrics-max-adapters must be at least 1"):
        ServeConfig(metrics_max_adapters=0)
