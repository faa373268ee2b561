"""Serving on a 4-bit or 8-bit base (bitsandbytes, CUDA only): adapters trained on that quantized base."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapterhub import train
from adapterhub.inference import Generation, Hub
from tests.training.conftest import write_instructions

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_quantized_hub_serves_mixed_batches(bits: str, registry, tiny_gpt2: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    data = str(write_instructions(tmp_path / "i.jsonl"))
    for seed in (1, 2):
        train(
            task="generate",
            name=f"g{seed}",
            base=str(tiny_gpt2),
            data=data,
            quantize=bits,
            epochs=1,
            batch_size=4,
            max_length=64,
            seed=seed,
            registry=registry,
        )
    hub = Hub(registry, quantize=bits)
    prompts = ["write a short poem about the sea", "the sea"]
    mixed = hub.predict(prompts, adapter=["g1", "g2"], max_new_tokens=6)
    alone = [hub.predict(p, adapter=a, max_new_tokens=6) for p, a in zip(prompts, ["g1", "g2"], strict=True)]
    assert all(isinstance(r, Generation) for r in mixed)
    assert [r.adapter for r in mixed] == ["g1@1", "g2@1"]
    assert [r.tokens for r in mixed] == [r.tokens for r in alone]
    following = Hub(registry).predict(prompts, adapter=["g1", "g2"], max_new_tokens=6)  # quantized as trained
    assert [r.tokens for r in following] == [r.tokens for r in mixed]


def test_a_quantized_hub_refuses_a_full_precision_adapter(registry, tiny_bert: Path) -> None:
    pytest.importorskip("bitsandbytes")
    from adapterhub.errors import IncompatibleAdapter
    from tests.inference.helpers import publish_adapter

    publish_adapter(registry, tiny_bert, "full")
    with pytest.raises(IncompatibleAdapter, match="in full precision, but this hub loads bases 4bit"):
        Hub(registry, quantize="4bit").predict("text", adapter="full")
