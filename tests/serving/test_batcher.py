"""Dynamic batching: how requests are gathered, split and drained."""

from __future__ import annotations

import asyncio

import pytest

from adapterhub.inference import Hub
from adapterhub.inference.decoding import GenerationOptions
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


def test_a_gathered_batch_of_64_runs_as_one_forward_pass(registry: Registry, monkeypatch) -> None:
    from adapterhub.inference.host import Host
    from adapterhub.serving import ServeConfig

    passes: list[int] = []
    classify = Host._classify

    def counted(self, batch):
        passes.append(len(batch))
        return classify(self, batch)

    monkeypatch.setattr(Host, "_classify", counted)
    hub = Hub(registry, device="cpu")  # its own batch size stays 32: the server's max_batch must reach the pass
    batcher = Batcher(hub, max_batch=64, max_wait_ms=5000)
    batcher.start()

    async def main() -> list:
        return await asyncio.gather(*(batcher.submit([f"text {i:03d}"], "sentiment") for i in range(64)))

    results = asyncio.run(main())
    batcher.close()
    assert len(results) == 64 and all(r[0].adapter == "sentiment@1" for r in results)
    assert passes == [64]  # equal lengths: no padding to save, so one pass rather than 32 + 32
    assert ServeConfig(registry=str(registry.root), max_batch=64, device="cpu").make_hub().batch_size == 64


def test_a_request_that_fails_in_a_batch_fails_alone(registry: Registry, monkeypatch) -> None:
    from adapterhub.inference.host import Host

    encode = Host._encode

    def faulty(self, index, text, adapter, *args):
        if text == "POISON":
            raise RuntimeError("the tokenizer choked")
        return encode(self, index, text, adapter, *args)

    monkeypatch.setattr(Host, "_encode", faulty)
    hub = Hub(registry, device="cpu")
    metrics = Metrics()
    batcher = Batcher(hub, max_batch=64, max_wait_ms=1000, metrics=metrics)
    batcher.start()
    texts = [f"innocent {i}" for i in range(20)]
    texts[13] = "POISON"

    async def main() -> list:
        jobs = [batcher.submit([t], "sentiment" if i % 2 else "ner") for i, t in enumerate(texts)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    batcher.close()
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [13] and "choked" in str(results[13])
    alone = Hub(registry, device="cpu")
    for i, (text, result) in enumerate(zip(texts, results, strict=True)):
        if i == 13:
            continue
        want = alone.predict(text, adapter="sentiment" if i % 2 else "ner")
        assert result[0].adapter == want.adapter
        if i % 2:
            assert result[0].label == want.label and result[0].score == pytest.approx(want.score, abs=1e-6)
        else:
            assert result[0].tags == want.tags
    count, _ = _batches(metrics)
    assert 2 < count <= 1 + 2 * 5  # the batch, then halves down to the failing request: about 2 log2(20) reruns


def test_a_rerun_streams_nothing_twice(registry: Registry, monkeypatch) -> None:
    """A batch that fails after streaming text is rerun without the failing request; the innocent streams
    continue where they were and receive each piece once."""
    from adapterhub.inference.host import Host

    generate = Host._generate

    def fails_after_streaming(self, batch, options, on_text):
        results = generate(self, batch, options, on_text)
        if any(item.text == "POISON" for item in batch):
            raise RuntimeError("failed mid-way")
        return results

    monkeypatch.setattr(Host, "_generate", fails_after_streaming)
    hub = Hub(registry, device="cpu")
    batcher = Batcher(hub, max_batch=8, max_wait_ms=1000)
    batcher.start()
    options = GenerationOptions(max_new_tokens=6)
    prompts = ["the sea", "POISON", "the sky is blue", "a poem"]
    pieces: dict[int, list[str]] = {i: [] for i in range(len(prompts))}

    async def main() -> list:
        loop = asyncio.get_running_loop()

        def collect(job: int):
            return lambda index, piece: loop.call_soon_threadsafe(pieces[job].append, piece)

        jobs = [batcher.submit([p], "poet", options, collect(i)) for i, p in enumerate(prompts)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    batcher.close()
    assert isinstance(results[1], RuntimeError)
    for i in (0, 2, 3):
        want = Hub(registry, device="cpu").predict(prompts[i], adapter="poet", max_new_tokens=6).text
        assert results[i][0].text == want
        assert "".join(pieces[i]) == want  # streamed in the failed run, not again in the rerun


def test_a_rerun_that_departs_from_the_streamed_text_fails_instead_of_streaming_a_mix() -> None:
    from adapterhub.serving.batcher import _Job

    sent: list[str] = []
    job = _Job(["x"], "poet", None, None, None, lambda index, piece: sent.append(piece))  # type: ignore[arg-type]
    for text in ("the", "the sea"):  # the first run streams, then its batch fails
        job.relay(0, text)
    for text in ("the", "the sea", "the sea is"):  # the rerun: repeats nothing, continues after "the sea"
        job.relay(0, text)
    assert sent == ["the", " sea", " is"] and not job.diverged
    job.relay(0, "the sky")  # a sampled rerun that went another way cannot be streamed on top
    assert job.diverged and sent == ["the", " sea", " is"]
