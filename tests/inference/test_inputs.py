"""Inputs the engine cannot run are refused by name before any forward pass: text that is not well-formed
Unicode, and prompts whose tokens plus the new ones pass the base's context."""

from __future__ import annotations

import pytest
from transformers import BertConfig, GPT2Config, LlamaConfig, MambaConfig

from adapterhub.errors import ConfigError
from adapterhub.inference import Hub
from tests.inference.helpers import publish_adapter

LONG = "the sea is blue and wide " * 30  # cut to the card's max_length: 64 prompt tokens


def test_a_lone_surrogate_is_refused_naming_the_input(hub: Hub, registry, tiny_bert, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_bert, "sentiment")
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    for adapter in ("sentiment", "ner", "poet"):
        with pytest.raises(ConfigError, match=r"inputs\[2\] is not well-formed Unicode: a lone surrogate"):
            hub.predict(["fine", "also fine", "\udc80x"], adapter=adapter)
    with pytest.raises(ConfigError, match=r"inputs\[0\] is not well-formed Unicode") as caught:
        hub.predict([["anna", "\ud800"]], adapter="ner", split_into_words=True)
    assert caught.value.param == "inputs[0]"
    assert hub.predict("\x00\uffff\U0010ffff", adapter="sentiment").adapter == "sentiment@1"  # odd but valid


def test_generation_past_the_base_context_is_refused_with_both_numbers(hub: Hub, registry, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")  # tiny GPT-2: 128 positions
    with pytest.raises(
        ConfigError,
        match=r"^inputs\[0\]: \d+ prompt tokens \+ 200 new tokens = \d+ positions, but "
        r"the base's context is 128; ask for at most \d+ new tokens",
    ):
        hub.predict("the sea", adapter="poet", max_new_tokens=200)
    short = hub.predict("the sea", adapter="poet", max_new_tokens=70)
    assert short.tokens == 70
    assert hub.predict(LONG, adapter="poet", max_new_tokens=64).prompt_tokens == 64  # 64 + 64 = 128 fits exactly
    with pytest.raises(ConfigError, match=r"inputs\[1\]: 64 prompt tokens \+ 70 new tokens = 134 positions"):
        hub.predict(["the sea", LONG], adapter="poet", max_new_tokens=70)  # the short one alone would fit
    with pytest.raises(ConfigError, match=r"prompt\[1\]: 64 prompt tokens"):
        hub.check(["the sea", LONG], "poet", max_new_tokens=70, params=["prompt[0]", "prompt[1]"])
    hub.check(["the sea", LONG], "poet", max_new_tokens=64)


def test_a_prefix_takes_positions_too(hub: Hub, registry, tiny_gpt2, tiny_bert) -> None:
    publish_adapter(registry, tiny_gpt2, "verse", task="generate", method="prefix", tokens=4)
    with pytest.raises(ConfigError, match=r"a 4-token adapter prefix and 64 prompt tokens \+ 64 new tokens = 132"):
        hub.predict(LONG, adapter="verse", max_new_tokens=64)
    assert hub.predict(LONG, adapter="verse", max_new_tokens=60).tokens == 60
    # an encoder's inputs are cut where the prefix leaves room (64 positions, 4 of them the prefix)
    publish_adapter(registry, tiny_bert, "topic", task="classify", method="prefix", labels=("a", "b", "c"))
    assert hub.predict("abc def " * 100, adapter="topic").label in ("a", "b", "c")


def test_context_length_reads_what_the_config_declares() -> None:
    from adapterhub.base import context_length

    assert context_length(GPT2Config(n_positions=128)) == 128
    assert context_length(BertConfig(max_position_embeddings=512)) == 512
    assert context_length(LlamaConfig(max_position_embeddings=4096)) == 4096  # rotary: held to what it declares
    assert context_length(MambaConfig()) is None  # no positions: no limit to check
