"""The Hub on the real all-MiniLM-L6-v2 (embedded): mixed batches equal PEFT's model for each adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from adapterhub.base import resolve_base
from adapterhub.inference import Hub
from tests.inference.helpers import publish_adapter

pytestmark = pytest.mark.slow


def test_mixed_minilm_batch_equals_peft_per_adapter(registry) -> None:
    base = Path(resolve_base(None))
    models = {}
    for i, method in enumerate(["lora", "lora", "prefix"]):
        _, models[f"a{i}"] = publish_adapter(registry, base, f"a{i}", method=method, seed=i, r=8)
    texts = ["a gripping, beautifully acted drama", "the jokes fall flat", "an uneven but charming comedy"] * 3
    adapters = [f"a{i % 3}" for i in range(len(texts))]
    results = Hub(registry, device="cpu").predict(texts, adapter=adapters)
    tokenizer = AutoTokenizer.from_pretrained(base)
    for text, name, result in zip(texts, adapters, results, strict=True):
        with torch.no_grad():
            expected = torch.softmax(models[name](**tokenizer(text, return_tensors="pt")).logits, -1)[0]
        torch.testing.assert_close(torch.tensor(list(result.scores.values())), expected, rtol=1e-4, atol=1e-5)
