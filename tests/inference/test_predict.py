"""``Hub.predict`` for every task and method gives what PEFT gives for the same adapter, typed and in order."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from adapterhub.errors import ConfigError
from adapterhub.inference import Classification, Entities, Generation, Hub
from tests.inference.helpers import SENTIMENT, TAGS, peft_greedy, prompt_ids, publish_adapter

TEXTS = ["hello there world", "a fine day", "it was not good at all, sadly"]


@pytest.mark.parametrize("method", ["lora", "prefix", "head"])
def test_classification_equals_peft(hub: Hub, registry, tiny_bert, method: str) -> None:
    record, model = publish_adapter(registry, tiny_bert, "sentiment", method=method)
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    results = hub.predict(TEXTS, adapter="sentiment")
    for text, result in zip(TEXTS, results, strict=True):
        with torch.no_grad():
            expected = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0]
        assert isinstance(result, Classification)
        assert result.adapter == record.ref
        assert list(result.scores) == list(SENTIMENT)
        torch.testing.assert_close(torch.tensor(list(result.scores.values())), expected, rtol=1e-5, atol=1e-6)
        assert result.label == SENTIMENT[int(expected.argmax())]
        assert result.score == pytest.approx(float(expected.max()), abs=1e-6)


@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_ner_tags_equal_peft_word_by_word(hub: Hub, registry, tiny_bert, method: str) -> None:
    _, model = publish_adapter(registry, tiny_bert, "ner", task="ner", method=method)
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    result = hub.predict("anna went to paris, then rome", adapter="ner")
    assert isinstance(result, Entities)
    words = ["anna", "went", "to", "paris", ",", "then", "rome"]
    assert list(result.words) == words
    enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        best = model(**enc).logits[0].argmax(-1).tolist()
    firsts, previous = [], None
    for position, word in enumerate(enc.word_ids()):
        if word is not None and word != previous:
            firsts.append(position)
        previous = word
    assert list(result.tags) == [TAGS[best[p]] for p in firsts]
    for entity in result.entities:  # spans point into the input text
        assert "anna went to paris, then rome"[entity.start : entity.end] == entity.text


@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_generation_equals_peft_greedy(hub: Hub, registry, tiny_gpt2, method: str) -> None:
    _, model = publish_adapter(registry, tiny_gpt2, "poet", task="generate", method=method)
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    result = hub.predict("write a short poem", adapter="poet", max_new_tokens=6)
    expected = peft_greedy(model, prompt_ids(tokenizer, "write a short poem"), 6, tokenizer.eos_token_id)
    assert isinstance(result, Generation)
    assert result.tokens == len(expected)
    assert result.text == tokenizer.decode(expected, skip_special_tokens=True)


def _assert_same_answers(mixed: list, alone: list, adapters: list[str]) -> None:
    """Each mixed-batch answer is its adapter's answer alone: the label and probabilities, or the tags."""
    for m, a, name in zip(mixed, alone, adapters, strict=True):
        assert m.adapter == a.adapter == f"{name}@1"
        if isinstance(m, Classification):
            assert m.label == a.label
            torch.testing.assert_close(list(m.scores.values()), list(a.scores.values()), rtol=1e-4, atol=1e-5)
        else:
            assert m.tags == a.tags and m.words == a.words


def test_mixed_batch_equals_each_adapter_alone_in_order(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "lora-a", seed=1)
    publish_adapter(registry, tiny_bert, "lora-b", seed=2, r=8, targets=("query", "value", "dense"))
    publish_adapter(registry, tiny_bert, "prefix-4", method="prefix", tokens=4, seed=3)
    publish_adapter(registry, tiny_bert, "prefix-6", method="prefix", tokens=6, seed=4)
    publish_adapter(registry, tiny_bert, "head", method="head", seed=5)
    publish_adapter(registry, tiny_bert, "tags", task="ner", seed=6)
    publish_adapter(registry, tiny_bert, "topics", labels=("a", "b", "c"), seed=7)
    names = ["lora-a", "lora-b", "prefix-4", "prefix-6", "head", "tags", "topics"]
    texts = [f"{word} example number {i}" for i, word in enumerate("abcdefghijklmnopqrstu")]
    adapters = [names[i % len(names)] for i in range(len(texts))]
    mixed = hub.predict(texts, adapter=adapters, batch_size=4)
    alone = [hub.predict(text, adapter=name) for text, name in zip(texts, adapters, strict=True)]
    _assert_same_answers(mixed, alone, adapters)


def test_mixed_generation_equals_each_alone(hub: Hub, registry, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_gpt2, "g1", task="generate", seed=1)
    publish_adapter(registry, tiny_gpt2, "g2", task="generate", seed=2)
    publish_adapter(registry, tiny_gpt2, "p1", task="generate", method="prefix", seed=3)
    prompts = ["the sea", "write a short poem about the sea", "blue", "a poem"]
    adapters = ["g1", "g2", "g1", "p1"]
    mixed = hub.predict(prompts, adapter=adapters, max_new_tokens=5)
    alone = [hub.predict(p, adapter=a, max_new_tokens=5) for p, a in zip(prompts, adapters, strict=True)]
    assert [m.text for m in mixed] == [a.text for a in alone]
    assert [m.adapter for m in mixed] == ["g1@1", "g2@1", "g1@1", "p1@1"]


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind of every batch plan the adapter bank makes (``segments`` or ``gathered``)."""
    import adapterhub.inference.lora_bank as bank

    kinds: list[str] = []
    real = bank.plan

    def spy(*args, **kwargs):
        made = real(*args, **kwargs)
        kinds.append(made.kind if made is not None else "none")
        return made

    monkeypatch.setattr(bank, "plan", spy)
    return kinds


def test_a_batch_of_many_adapters_spread_unevenly_equals_each_adapter_alone(
    hub: Hub, registry, tiny_bert, plans: list[str]
) -> None:
    names = []
    for i in range(10):  # ranks and target layers differ: the bank pads and zero-fills
        targets = ("query", "value") if i % 3 == 0 else None
        publish_adapter(registry, tiny_bert, f"lora{i}", seed=i, r=(2, 4, 8)[i % 3], targets=targets)
        names.append(f"lora{i}")
    publish_adapter(registry, tiny_bert, "tags", task="ner", seed=20)
    publish_adapter(registry, tiny_bert, "head", method="head", seed=21)
    names += ["tags", "head"]
    # 1 to 6 rows each: the host orders adapters by share, so each share size makes one run; six is too many
    adapters = [name for i, name in enumerate(names) for _ in range(1 + i % 6)]
    texts = [f"example {i} of a few words" for i in range(len(adapters))]
    mixed = hub.predict(texts, adapter=adapters, batch_size=64)
    assert "gathered" in plans  # every row of the batch through one gathered product
    plans.clear()
    alone = [hub.predict(text, adapter=name) for text, name in zip(texts, adapters, strict=True)]
    assert set(plans) <= {"segments", "none"}
    _assert_same_answers(mixed, alone, adapters)


def test_generation_with_many_lora_adapters_and_prefixes_equals_each_alone(
    hub: Hub, registry, tiny_gpt2, plans: list[str]
) -> None:
    names = []
    for i in range(8):
        publish_adapter(registry, tiny_gpt2, f"g{i}", task="generate", seed=i, r=(4, 8)[i % 2])
        names.append(f"g{i}")
    publish_adapter(registry, tiny_gpt2, "p3", task="generate", method="prefix", tokens=3, seed=30)
    publish_adapter(registry, tiny_gpt2, "p5", task="generate", method="prefix", tokens=5, seed=31)
    names += ["p3", "p5"]
    adapters = [name for i, name in enumerate(names) for _ in range(1 + i % 6)]
    prompts = [("the sea", "a poem about the night", "blue")[i % 3] for i in range(len(adapters))]
    mixed = hub.predict(prompts, adapter=adapters, max_new_tokens=6, batch_size=64)
    assert plans == ["gathered"]  # one decode loop for LoRA and prefix rows alike
    alone = [hub.predict(p, adapter=a, max_new_tokens=6) for p, a in zip(prompts, adapters, strict=True)]
    assert [m.text for m in mixed] == [a.text for a in alone]
    assert [m.adapter for m in mixed] == [f"{a}@1" for a in adapters]


def test_one_text_gives_one_result_and_a_list_gives_a_list(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment")
    assert isinstance(hub.predict("one", adapter="sentiment"), Classification)
    assert len(hub.predict(["one", "two"], adapter="sentiment")) == 2
    assert hub.predict([], adapter="sentiment") == []


def test_using_scopes_the_adapter(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "first", seed=1)
    publish_adapter(registry, tiny_bert, "second", seed=2)
    with hub.using("first"):
        assert hub.predict("text").adapter == "first@1"
        with hub.using("second"):
            assert hub.predict("text").adapter == "second@1"
        assert hub.predict("text").adapter == "first@1"
        assert hub.predict("text", adapter="second").adapter == "second@1"  # explicit wins
    with pytest.raises(ConfigError, match="no adapter given"):
        hub.predict("text")


def test_adapter_count_must_match_inputs(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment")
    with pytest.raises(ConfigError, match="3 inputs but 2 adapters"):
        hub.predict(["a", "b", "c"], adapter=["sentiment", "sentiment"])


def test_sampling_is_reproducible_with_a_seed(hub: Hub, registry, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    runs = [hub.predict("the sea", adapter="poet", temperature=1.0, top_p=0.9, seed=7).text for _ in range(2)]
    assert runs[0] == runs[1]
    with pytest.raises(ConfigError, match="max_new_tokens"):
        hub.predict("the sea", adapter="poet", max_new_tokens=0)


def test_a_bf16_hub_serves_fp32_adapters_closely(registry, tiny_bert, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "ner", task="ner", seed=2)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=3)
    full, half = Hub(registry, device="cpu"), Hub(registry, device="cpu", dtype="bf16")
    for want, got in zip(full.predict(TEXTS, "sentiment"), half.predict(TEXTS, "sentiment"), strict=True):
        assert got.scores == pytest.approx(want.scores, abs=2e-2)  # bf16 keeps about 3 significant digits
    assert half.predict("anna went to paris", "ner").words == ("anna", "went", "to", "paris")
    assert half.predict("the sea", "poet", max_new_tokens=3).tokens == 3
    host = next(iter(half._hosts.values()))
    assert next(host.root.parameters()).dtype == torch.bfloat16
    assert host.fingerprint == next(iter(full._hosts.values())).fingerprint  # the same base, computed in bf16
    for kwargs, message in (
        ({"dtype": "fp16"}, "fp16 needs a CUDA device"),
        ({"dtype": "int3"}, "dtype must be one of fp32, bf16, fp16"),
    ):
        with pytest.raises(ConfigError, match=message):
            Hub(registry, device="cpu", **kwargs)


def test_progress_counts_every_input_once_per_forward_pass(hub: Hub, registry, tiny_bert, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_bert, "lora-a", seed=1)
    publish_adapter(registry, tiny_bert, "prefix-4", method="prefix", tokens=4, seed=2)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=3)
    texts = [f"{word} example number {i}" for i, word in enumerate("abcdefghijklmnopq")]
    adapters = ["lora-a", "prefix-4", "poet"] * 5 + ["lora-a", "lora-a"]
    counts: list[int] = []
    hub.predict(texts, adapter=adapters, batch_size=4, max_new_tokens=2, progress=counts.append)
    assert sum(counts) == len(texts) and all(1 <= c <= 4 for c in counts)
    assert len(counts) >= 5  # 7 lora-a, 5 prefix-4, 5 poet inputs: at least 2 + 2 + 2 passes of at most 4

    counts.clear()
    hub.predict(texts[:3], adapter=["lora-a", "prefix-4"], combine="mean", progress=counts.append)
    assert sum(counts) == 6  # each input once per member


def test_prefix_and_generation_passes_raise_no_deprecation_warning(hub: Hub, registry, tiny_bert, tiny_gpt2) -> None:
    """transformers warns when a cache reaches a model under its old keyword (`past_key_values`)."""
    import warnings

    publish_adapter(registry, tiny_bert, "prefix", method="prefix", tokens=4)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", method="prefix", tokens=4)
    publish_adapter(registry, tiny_gpt2, "lora-poet", task="generate")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hub.predict(["a fine day", "a dull one"], adapter="prefix")
        hub.predict(["the sea", "a poem"], adapter=["poet", "lora-poet"], max_new_tokens=3)
    assert [str(w.message) for w in caught] == []
