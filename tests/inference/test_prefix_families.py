"""Prefix adapters on every model family that takes a key/value cache: the Hub serves them (alone and in a batch
mixed with other adapters of the same base) as PEFT's own model computes them, grouped- and multi-query attention,
head sizes other than hidden / heads and sliding windows narrower than the prompt included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

from adapterhub.errors import AdapterNotFound, IncompatibleAdapter
from adapterhub.inference import Classification, Generation, Hub
from adapterhub.inference.resident import _prefix
from adapterhub.methods.prefix import NO_PREFIX
from adapterhub.registry import Registry
from tests.families import DECODERS, ENCODERS
from tests.inference.helpers import SENTIMENT, peft_greedy, prompt_ids, publish_adapter

PREFIX_ENCODERS = tuple(name for name in ENCODERS if name not in NO_PREFIX)
NO_PREFIX_ENCODERS = tuple(name for name in ENCODERS if name in NO_PREFIX)
SLIDING = ("mistral", "gemma2", "gemma3")  # a window of 8 positions
PROMPTS = ("write a short poem about the sea and the sky at night", "blue", "tell me about the sea")
TEXTS = ("it was not good at all, sadly", "a fine day", "hello there world, how are you")
NEW_TOKENS = 6
LORA_TARGETS = {  # given, so that these tests do not hang on each family's default LoRA targets
    "gpt2": ("c_attn",),
    "gpt-neox": ("query_key_value",),
    "falcon": ("query_key_value",),
    "phi3": ("qkv_proj",),
    **{name: ("query", "value") for name in PREFIX_ENCODERS},
}


def _greedy_text(model, tokenizer, prompt: str) -> tuple[str, int]:
    tokens = peft_greedy(model, prompt_ids(tokenizer, prompt), NEW_TOKENS, tokenizer.eos_token_id)
    return tokenizer.decode(tokens, skip_special_tokens=True), len(tokens)


def _prefixes_and_lora(registry: Registry, base: Path, family: str, prefixes: dict[str, int]) -> dict[str, Any]:
    """Generate adapters on ``base``, published in order with seeds 1, 2, …: a prefix adapter per name of
    ``prefixes`` (with that many virtual tokens), then ``lora``; the PEFT model of each, by name."""
    models = {
        name: publish_adapter(registry, base, name, task="generate", method="prefix", tokens=tokens, seed=seed)[1]
        for seed, (name, tokens) in enumerate(prefixes.items(), start=1)
    }
    targets = LORA_TARGETS.get(family, ("q_proj", "v_proj"))
    _, models["lora"] = publish_adapter(
        registry, base, "lora", task="generate", targets=targets, seed=len(prefixes) + 1
    )
    return models


@pytest.mark.parametrize("family", DECODERS)
def test_a_decoder_prefix_generates_what_peft_does_alone_and_mixed_with_lora(
    family: str, hub: Hub, registry: Registry, family_base: Callable[[str], Path]
) -> None:
    base = family_base(family)
    tokenizer = AutoTokenizer.from_pretrained(base)
    window = getattr(AutoConfig.from_pretrained(base), "sliding_window", None)
    if window:
        assert prompt_ids(tokenizer, PROMPTS[0]).shape[1] > window  # the prefix falls out of the window
    models = _prefixes_and_lora(registry, base, family, {"p1": 4, "p2": 4})
    alone = hub.predict(PROMPTS[0], adapter="p1", max_new_tokens=NEW_TOKENS)
    assert isinstance(alone, Generation)
    assert (alone.text, alone.tokens) == _greedy_text(models["p1"], tokenizer, PROMPTS[0])
    ids = prompt_ids(tokenizer, PROMPTS[0])
    with torch.no_grad():  # the prefix is live: it changes PEFT's logits at least where it is in reach
        assert not torch.allclose(models["p1"](input_ids=ids).logits, models["p1"].get_base_model()(ids).logits)

    adapters = ["p1", "lora", "p2"]
    prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[2]]  # the prefixes' prompts left-padded to the longest in one pass
    mixed = hub.predict(prompts, adapter=adapters, max_new_tokens=NEW_TOKENS)
    for result, name, prompt in zip(mixed, adapters, prompts, strict=True):
        assert result.adapter == f"{name}@1"
        assert (result.text, result.tokens) == _greedy_text(models[name], tokenizer, prompt), (name, prompt)
    # and it changes the tokens, except where nothing can: every Mistral layer slides, so the prompts' ends are
    # two windows past the prefix; the tiny Falcon says token 199 and the tiny Phi the same six tokens whatever
    # precedes them (their prefixes change the logits, checked above, and their classification test below checks
    # the prefix to 1e-4)
    if family not in ("mistral", "falcon", "phi"):
        plain = models["p1"].get_base_model()
        served = zip(mixed, adapters, prompts, strict=True)
        prefixed = [(alone, PROMPTS[0])] + [(result, prompt) for result, name, prompt in served if name != "lora"]
        assert any(result.text != _greedy_text(plain, tokenizer, prompt)[0] for result, prompt in prefixed)


@pytest.mark.parametrize("family", [f for f in DECODERS if f not in SLIDING])
def test_prefixes_of_different_lengths_and_lora_rows_decode_in_one_pass_as_peft_does(
    family: str, hub: Hub, registry: Registry, family_base: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapterhub.inference.host as host_module

    base = family_base(family)
    tokenizer = AutoTokenizer.from_pretrained(base)
    models = _prefixes_and_lora(registry, base, family, {"short": 2, "long": 7})
    passes = []
    real = host_module.decode
    monkeypatch.setattr(host_module, "decode", lambda *a, **k: passes.append(a[1].shape[0]) or real(*a, **k))
    adapters = ["long", "lora", "short", "lora", "long"]
    prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[2], PROMPTS[0], PROMPTS[1]]
    mixed = hub.predict(prompts, adapter=adapters, max_new_tokens=NEW_TOKENS)
    assert passes == [5]  # one decode loop for the whole batch
    for result, name, prompt in zip(mixed, adapters, prompts, strict=True):
        assert (result.text, result.tokens) == _greedy_text(models[name], tokenizer, prompt), (name, prompt)


@pytest.mark.parametrize("family", SLIDING)
def test_a_prefix_longer_than_the_sliding_window_is_served_as_peft_does(
    family: str, hub: Hub, registry: Registry, family_base: Callable[[str], Path]
) -> None:
    """10 virtual tokens and a window of 8: the sliding layers see only the prefix's last positions, then none."""
    base = family_base(family)
    tokenizer = AutoTokenizer.from_pretrained(base)
    models = {
        name: publish_adapter(registry, base, name, task="generate", method="prefix", tokens=10, seed=seed)[1]
        for name, seed in (("long1", 4), ("long2", 5))
    }
    adapters = ["long1", "long2", "long1"]
    prompts = [PROMPTS[0], PROMPTS[0], PROMPTS[2]]  # two prefixes in one pass, one prompt on its own
    results = hub.predict(prompts, adapter=adapters, max_new_tokens=NEW_TOKENS)
    for result, name, prompt in zip(results, adapters, prompts, strict=True):
        assert (result.text, result.tokens) == _greedy_text(models[name], tokenizer, prompt), (name, prompt)


@pytest.mark.parametrize("family", DECODERS)
def test_a_decoder_prefix_classifies_as_peft_does(
    family: str, hub: Hub, registry: Registry, family_base: Callable[[str], Path]
) -> None:
    """Last-token pooling on a decoder body under a prefix: the Hub's probabilities are PEFT's forward's."""
    base = family_base(family)
    tokenizer = AutoTokenizer.from_pretrained(base)
    _, model = publish_adapter(registry, base, "mood", method="prefix", tokens=4, seed=6)
    results = hub.predict(list(TEXTS), adapter="mood")
    for text, result in zip(TEXTS, results, strict=True):
        with torch.no_grad():
            expected = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0]
        assert isinstance(result, Classification) and list(result.scores) == list(SENTIMENT)
        torch.testing.assert_close(torch.tensor(list(result.scores.values())), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("family", PREFIX_ENCODERS)
def test_an_encoder_prefix_classifies_as_peft_does_alone_and_mixed_with_lora(
    family: str, hub: Hub, registry: Registry, family_base: Callable[[str], Path]
) -> None:
    base = family_base(family)
    tokenizer = AutoTokenizer.from_pretrained(base)
    models = {
        "p1": publish_adapter(registry, base, "p1", method="prefix", tokens=4, seed=1)[1],
        "p2": publish_adapter(registry, base, "p2", method="prefix", tokens=4, seed=2)[1],
        "lora": publish_adapter(registry, base, "lora", targets=LORA_TARGETS[family], seed=3)[1],
    }

    def peft(name: str, text: str, with_prefix: bool = True) -> torch.Tensor:
        model = models[name] if with_prefix else models[name].get_base_model()
        with torch.no_grad():
            return torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0]

    alone = hub.predict(TEXTS[0], adapter="p1")
    torch.testing.assert_close(torch.tensor(list(alone.scores.values())), peft("p1", TEXTS[0]), rtol=0, atol=1e-4)
    assert not torch.allclose(peft("p1", TEXTS[0]), peft("p1", TEXTS[0], with_prefix=False), atol=1e-3)
    adapters = ["p1", "lora", "p2", "p1"]
    texts = [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[1]]
    for result, name, text in zip(hub.predict(texts, adapter=adapters), adapters, texts, strict=True):
        assert result.adapter == f"{name}@1"
        torch.testing.assert_close(torch.tensor(list(result.scores.values())), peft(name, text), rtol=0, atol=1e-4)


@pytest.mark.parametrize("family", NO_PREFIX_ENCODERS)
def test_a_prefix_adapter_for_a_family_without_a_cache_is_refused_at_publish(
    family: str, registry: Registry, family_base: Callable[[str], Path], tmp_path: Path
) -> None:
    """PEFT can build a prefix adapter for ALBERT, DeBERTa-v2 or ModernBERT from the config's sizes (DistilBERT's
    config names them otherwise), but the model has no cache to put it in: the registry refuses to publish it."""
    from peft import PrefixTuningConfig, get_peft_model

    from adapterhub.base import fingerprint
    from adapterhub.registry import BaseInfo, Card, DataInfo
    from adapterhub.tasks import get_task

    base = family_base(family)
    model = get_task("sentiment").build_model(str(base), SENTIMENT, 0.0)
    sizes = {"num_layers": 2, "token_dim": 32, "num_attention_heads": 2} if family == "distilbert" else {}
    model = get_peft_model(model, PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=4, **sizes))
    model.save_pretrained(tmp_path / "out", save_embedding_layers=False)
    card = Card(
        task="sentiment",
        task_type="SEQ_CLS",
        method="prefix",
        base=BaseInfo(id=str(base), fingerprint=fingerprint(model)),
        labels=SENTIMENT,
        data=DataInfo(description="random weights"),
    )
    with pytest.raises(IncompatibleAdapter, match=f"a prefix adapter on a {NO_PREFIX[family]} base"):
        registry.publish("mood", tmp_path / "out", card)
    with pytest.raises(AdapterNotFound):
        registry.get("mood")


def test_serving_refuses_a_prefix_sized_by_attention_heads_on_a_grouped_query_base(
    family_base: Callable[[str], Path],
) -> None:
    """A prefix made for 4 heads of 8 dims (the query heads) on a Llama that caches 2 key/value heads of 8 dims
    does not fit the cache: refused with both shapes, as PEFT itself would fail to load it."""
    config = AutoConfig.from_pretrained(family_base("llama"))
    wrong = {"num_layers": 2, "num_attention_heads": 4, "token_dim": 32, "num_virtual_tokens": 3}
    with pytest.raises(IncompatibleAdapter) as refused:
        _prefix("poet@1", wrong, torch.zeros(3, 2 * 2 * 32), config)
    assert str(refused.value) == (
        "poet@1: its prefix is for 2 layers x 4 key/value heads x 8 dims but the base caches "
        "2 layers x 2 key/value heads x 8 dims"
    )
    right = {**wrong, "num_attention_heads": 2, "token_dim": 16}
    assert tuple(_prefix("poet@1", right, torch.zeros(3, 2 * 2 * 16), config).shape) == (2, 2, 2, 3, 8)
    albert = AutoConfig.from_pretrained(family_base("albert"))
    with pytest.raises(
        IncompatibleAdapter, match=r"ALBERT bases take no key/value cache.*retrain it with --method lora"
    ):
        _prefix("mood@1", right, torch.zeros(3, 64), albert)
