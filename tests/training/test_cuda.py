"""Training on a CUDA GPU: bf16 autocast through accelerate, the frozen base checked, and the adapter it
publishes serves the same on the GPU and on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapterhub import train
from adapterhub.inference import Hub

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TEXTS = ["a fine film", "dull and long", "the cast is great"]


@pytest.mark.parametrize("method", ["lora", "prefix", "head"])
def test_bf16_training_on_the_gpu_serves_alike_on_gpu_and_cpu(method: str, tiny_bert: Path, sentiment_csv: Path):
    torch.cuda.reset_peak_memory_stats()
    result = train(
        task="sentiment",
        base=str(tiny_bert),
        data=str(sentiment_csv),
        method=method,
        precision="bf16",
        epochs=2,
        batch_size=8,
        lr=1e-2,
    )
    assert torch.cuda.max_memory_allocated() > 0  # the run used the GPU
    card = result.record.card
    assert card.hyperparameters["precision"] == "bf16" and card.base.fingerprint
    on_gpu = Hub(device="cuda").predict(TEXTS, adapter="sentiment")
    on_cpu = Hub(device="cpu").predict(TEXTS, adapter="sentiment")
    for got, want in zip(on_gpu, on_cpu, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-4)


def test_fp16_training_on_the_gpu(tiny_bert: Path, sentiment_csv: Path) -> None:
    result = train(
        task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), precision="fp16", epochs=1, batch_size=8
    )
    assert result.record.card.hyperparameters["precision"] == "fp16"
