"""QLoRA-style training on a 4-bit or 8-bit base (bitsandbytes, CUDA only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapterhub import Registry, train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_lora_on_a_quantized_base_trains_and_publishes(bits: str, tiny_gpt2: Path, instructions_jsonl: Path) -> None:
    pytest.importorskip("bitsandbytes")
    result = train(
        task="generate",
        base=str(tiny_gpt2),
        data=str(instructions_jsonl),
        quantize=bits,
        epochs=2,
        batch_size=4,
        lr=1e-2,
        max_length=64,
    )
    card = result.record.card
    assert card.hyperparameters["quantize"] == bits
    assert card.metrics["perplexity"] <= result.fit.history[0]["perplexity"]
    assert Registry().load(result.record.ref).tensors
    from adapterhub.evaluation import evaluate

    scored = evaluate(result.record.ref, str(instructions_jsonl), record=False)  # on the base quantized as trained
    assert 1 < scored.metrics["perplexity"] < 2 * result.fit.history[0]["perplexity"]


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_classifier_on_a_quantized_base_trains_and_serves(bits: str, tiny_bert: Path, sentiment_csv: Path) -> None:
    pytest.importorskip("bitsandbytes")
    from adapterhub.inference import Hub

    result = train(
        task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), quantize=bits, epochs=2, batch_size=8, lr=1e-2
    )
    assert result.record.card.hyperparameters["quantize"] == bits
    texts = ["a fine film", "dull and long"]
    served = Hub(quantize=bits).predict(texts, adapter="sentiment")
    assert [r.adapter for r in served] == ["sentiment@1", "sentiment@1"]
    assert all(abs(sum(r.scores.values()) - 1) < 1e-3 for r in served)
