"""Dynamic batching: how requests are gathered, split and drained."""

from __future__ import annotations

import asyncio

import pytest

from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.serving.batcher import Batcher
from adapterhub.serving.errors import ShuttingDown
from adapterhub.serving.metrics import Metrics


def _batches(metrics: Metrics) -> tuple[float, float]:
    """(number of batches, inputs in them)."""
    get = metrics.registry.get_sample_value
    return get("adapterhub_batch_size_count"), get("adapterhub_batch_size_sum")


def test_max_batch_bounds_each_batch_and_results_keep_their_request(registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    metrics = Metrics()
    batcher = Batcher(hub, max_batch=4, max_wait_ms=500, metrics=metrics)
    batcher.start()

    async def main() -> list:
        texts = [f"text number {i}" for i in range(10)]
        adapters = ["sentiment", "topic"] * 5
        return await asyncio.gather(*(batcher.submit([t], a) for t, a in zip(texts, adapters, strict=True)))

    results = asyncio.run(main())
    batcher.close()
    assert _batches(metrics) == (3.0, 10.0)  # 4 + 4 + 2
    hub_alone = Hub(registry, device="cpu")
    for i, (result,) in enumerate(results):
        want = hub_alone.predict(f"text number {i}", adapter=["sentiment", "topic"][i % 2])
        assert result.adapter == want.adapter and result.label == want.label
        assert abs(result.score - want.score) < 1e-6


def test_a_batch_needing_more_adapters_than_the_hub_keeps_hot_is_split(registry: Registry) -> None:
    hub = Hub(registry, device="cpu", max_adapters=2)
    metrics = Metrics()
    batcher = Batcher(hub, max_batch=32, max_wait_ms=300, metrics=metrics)
    batcher.start()

    async def main() -> list:
        return await asyncio.gather(*(batcher.submit(["x y"], a) for a in ("sentiment", "topic", "ner", "sentiment")))

    results = asyncio.run(main())
    batcher.close()
    assert [r[0].adapter for r in results] == ["sentiment@1", "topic@1", "ner@1", "sentiment@1"]
    assert _batches(metrics) == (2.0, 4.0)  # one gathered batch, run as two hub calls


def test_generation_requests_group_by_their_sampling_options(registry: Registry) -> None:
    from adapterhub.inference.decoding import GenerationOptions

    hub = Hub(registry, device="cpu")
    metrics = Metrics()
    batcher = Batcher(hub, max_batch=32, max_wait_ms=300, metrics=metrics)
    batcher.start()
    short, longer = GenerationOptions(max_new_tokens=2), GenerationOptions(max_new_tokens=5)

    async def main() -> list:
        return await asyncio.gather(
            batcher.submit(["the sea"], "poet", short),
            batcher.submit(["the sea"], "poet", longer),
            batcher.submit(["the sky"], "poet", short),
        )

    results = asyncio.run(main())
    batcher.close()
    assert [r[0].tokens for r in results] == [2, 5, 2]  # the random tiny model never stops by itself this early
    assert results[1][0].text == Hub(registry, device="cpu").predict("the sea", adapter="poet", max_new_tokens=5).text
    assert _batches(metrics) == (2.0, 3.0)


def test_close_finishes_queued_requests_then_refuses_new_ones(registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    batcher = Batcher(hub, max_batch=2, max_wait_ms=200)
    batcher.start()

    async def main() -> list:
        jobs = [asyncio.ensure_future(batcher.submit([f"t{i}"], "sentiment")) for i in range(5)]
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().run_in_executor(None, batcher.close)
        done = await asyncio.gather(*jobs)
        await closing
        with pytest.raises(ShuttingDown):
            await batcher.submit(["late"], "sentiment")
        return done

    results = asyncio.run(main())
    assert [r[0].adapter for r in results] == ["sentiment@1"] * 5
    assert batcher.depth == 0
