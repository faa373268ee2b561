"""``merge``: PEFT's weighted LoRA merge, exact with ``cat``, heads combined alike, lineage in the card."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel

from adapterhub.errors import ConfigError
from adapterhub.inference import Hub
from adapterhub.merging import merge
from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter

TEXTS = ["hello there world", "a fine day", "it was not good at all, sadly"]


def _delta(model: PeftModel, adapter: str, module: str) -> torch.Tensor:
    layer = model.get_submodule(module)
    return (layer.lora_B[adapter].weight @ layer.lora_A[adapter].weight) * layer.scaling[adapter]


def test_weights_one_and_zero_give_the_first_adapter(registry: Registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=0)
    publish_adapter(registry, tiny_bert, "b", seed=1, r=2)  # ranks may differ with cat
    merged = merge(["a", "b"], "c", weights=[1.0, 0.0], registry=registry)
    hub = Hub(registry, device="cpu")
    for got, want in zip(hub.predict(TEXTS, "c"), hub.predict(TEXTS, "a"), strict=True):
        assert got.label == want.label
        assert got.scores == pytest.approx(want.scores, abs=1e-5)
    assert merged.card.method_config["r"] == 6
    assert [x["ref"] for x in merged.card.lineage] == ["a@1", "b@1"]
    assert merged.card.lineage[0]["content_hash"] == registry.get("a").card.content_hash
    assert merged.card.lineage[1]["weight"] == 0.0


def test_every_update_and_the_head_are_the_weighted_sums(registry: Registry, tiny_bert) -> None:
    _, a = publish_adapter(registry, tiny_bert, "a", seed=0)
    _, b = publish_adapter(registry, tiny_bert, "b", seed=1)
    merge(["a", "b"], "c", weights=[0.6, 0.4], registry=registry)
    _, c = publish_adapter(registry, tiny_bert, "scratch", seed=9)  # a PEFT model to load c into
    c.load_adapter(str(registry.get("c").path), adapter_name="c")
    modules = [n for n, m in c.named_modules() if hasattr(m, "lora_A") and "c" in m.lora_A]
    assert modules
    for name in modules:
        want = 0.6 * _delta(a, "default", name) + 0.4 * _delta(b, "default", name)
        torch.testing.assert_close(_delta(c, "c", name), want, rtol=1e-5, atol=1e-6)
    heads = [m.classifier.modules_to_save for m in (a, b, c)]
    for part in ("weight", "bias"):
        want = 0.6 * getattr(heads[0]["default"][1], part) + 0.4 * getattr(heads[1]["default"][1], part)
        torch.testing.assert_close(getattr(heads[2]["c"][1], part), want)


def test_heads_are_aligned_by_label_name(registry: Registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=0, labels=("negative", "positive"))
    publish_adapter(registry, tiny_bert, "b", seed=0, labels=("positive", "negative"))  # same weights, rows swapped
    merge(["a", "b"], "c", weights=[0.5, 0.5], registry=registry)
    hub = Hub(registry, device="cpu")
    a, c = hub.predict(TEXTS, "a"), hub.predict(TEXTS, "c")
    assert [r.scores["negative"] for r in c] != pytest.approx([r.scores["negative"] for r in a])  # merged
    assert registry.get("c").card.labels == ("negative", "positive")


def test_merges_that_make_no_sense_are_refused(registry: Registry, tiny_bert, other_tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a")
    publish_adapter(registry, tiny_bert, "p", method="prefix")
    publish_adapter(registry, tiny_bert, "t", task="classify", labels=("x", "y", "z"))
    publish_adapter(registry, tiny_bert, "bad", labels=("bad", "good"))
    publish_adapter(registry, other_tiny_bert, "other")
    cases = {
        ("a", "p"): "p@1 is a prefix-tuning adapter",
        ("a", "t"): "one task: a@1 is sentiment, t@1 is classify",
        ("a", "other"): "other@1 was trained on another base",
        ("a", "bad"): "disagree on labels",
        ("a", "a@1"): "same version twice",
    }
    for pair, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            merge(list(pair), "c", registry=registry)
    with pytest.raises(ConfigError, match="one weight per adapter"):
        merge(["a", "bad"], "c", weights=[1.0], registry=registry)
    with pytest.raises(ConfigError, match="at least two"):
        merge(["a"], "c", registry=registry)
    assert registry.versions("c") == []
