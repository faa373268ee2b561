"""The CUDA path of the Hub: it agrees with the CPU, mixes adapters in one GPU batch, computes in bf16 when
asked, and unloading gives the GPU memory back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import torch

from adapterhub.inference import Classification, Hub
from tests.inference.helpers import publish_adapter
from tests.tiny import save_tiny_bert

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TEXTS = ["a fine film", "dull and long", "the cast is great", "no"]


def assert_close(results: list, expected: list, tolerance: float) -> None:
    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=tolerance)


def test_gpu_predictions_match_the_cpu_adapter_for_adapter(registry, tiny_bert: Path) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=1)
    publish_adapter(registry, tiny_bert, "b", seed=2)
    publish_adapter(registry, tiny_bert, "p", method="prefix", seed=3)
    publish_adapter(registry, tiny_bert, "tags", task="ner", seed=4)
    adapters = ["a", "b", "p", "a"]
    cpu, gpu = Hub(registry, device="cpu"), Hub(registry, device="cuda")
    on_cpu, on_gpu = cpu.predict(TEXTS, adapter=adapters), gpu.predict(TEXTS, adapter=adapters)
    assert all(isinstance(y, Classification) for y in on_gpu)
    assert [(y.adapter, y.label) for y in on_gpu] == [(x.adapter, x.label) for x in on_cpu]
    assert_close(on_gpu, on_cpu, 1e-4)
    alone = [gpu.predict(t, adapter=a) for t, a in zip(TEXTS, adapters, strict=True)]
    assert_close(alone, on_gpu, 1e-5)
    assert [r.tags for r in gpu.predict(TEXTS, adapter="tags")] == [r.tags for r in cpu.predict(TEXTS, adapter="tags")]


def test_bf16_on_the_gpu_stays_close_to_fp32(registry, tiny_bert: Path) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=1)
    fp32 = Hub(registry, device="cuda").predict(TEXTS, adapter="a")
    bf16 = Hub(registry, device="cuda", dtype="bf16").predict(TEXTS, adapter="a")
    assert_close(bf16, fp32, 2e-2)


def test_unloading_gives_gpu_memory_back(registry, tmp_path: Path) -> None:
    base = save_tiny_bert(tmp_path / "base", seed=0, layers=4, hidden=256)
    for i in range(4):
        publish_adapter(registry, base, f"a{i}", seed=i, r=64)
    gc.collect()
    torch.cuda.synchronize()
    empty = torch.cuda.memory_allocated()
    hub = Hub(registry, device="cuda")
    hub.predict("x", adapter="a0")
    one = torch.cuda.memory_allocated()
    for i in range(1, 4):
        hub.predict("x", adapter=f"a{i}")
    four = torch.cuda.memory_allocated()
    per_adapter = (four - one) / 3
    assert per_adapter > 64 * 256 * 2 * 4  # at least one rank-64 pair of fp32 matrices each: they live on the GPU
    for i in range(1, 4):
        hub.unload(f"a{i}")
    assert torch.cuda.memory_allocated() - one < 0.05 * per_adapter
    hub.unload_all(bases=True)
    gc.collect()
    assert torch.cuda.memory_allocated() - empty < 0.05 * per_adapter
