"""The prefix shape of every family is the shape its attention caches, and the refusal table tells the truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from adapterhub.errors import ConfigError
from adapterhub.methods.prefix import NO_PREFIX, check_prefix_base, prefix_layout, takes_cache
from tests.families import ALL_FAMILIES, DECODERS

WITH_PREFIX = tuple(name for name in ALL_FAMILIES if name not in NO_PREFIX)


@pytest.mark.parametrize("family", DECODERS)
def test_the_prefix_layout_is_what_each_layer_caches(family: str, family_base: Callable[[str], Path]) -> None:
    """Grouped-query (Llama, Qwen, Mistral, Gemma 2, Phi-3) and multi-query (Falcon) attention cache fewer heads
    than they query, Qwen3 and Gemma 2 heads of 16 dims beside a hidden size of 32: the layout follows the cache."""
    base = family_base(family)
    model = AutoModelForCausalLM.from_pretrained(base)
    with torch.no_grad():
        cache = model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True).past_key_values
    layout = prefix_layout(model.config)
    assert layout is not None and layout.layers == len(cache.layers) == model.config.num_hidden_layers
    for layer in cache.layers:
        assert tuple(layer.keys.shape) == tuple(layer.values.shape) == (1, layout.heads, 3, layout.head_dim)
    assert prefix_layout(json.loads((base / "config.json").read_text())) == layout  # config.json says the same


@pytest.mark.parametrize("family", WITH_PREFIX)
def test_the_prefix_peft_builds_from_our_config_is_sized_as_the_model_caches(
    family: str, family_base: Callable[[str], Path]
) -> None:
    """Whatever PEFT's own sizing rule gives for a family (releases differ: Falcon's multi-query attention), the
    config we hand it carries the sizes each layer caches, and PEFT builds its prompt encoder from them."""
    from peft import get_peft_model

    from adapterhub.methods.prefix import PrefixSettings

    config = AutoConfig.from_pretrained(family_base(family))
    encoder = ALL_FAMILIES[family].kind == "encoder"
    model = (AutoModel if encoder else AutoModelForCausalLM).from_config(config)
    layout = prefix_layout(config)
    assert layout is not None
    task_type = "FEATURE_EXTRACTION" if encoder else "CAUSAL_LM"
    peft_config = PrefixSettings(num_virtual_tokens=2).peft_config(task_type, model)
    assert (peft_config.num_layers, peft_config.num_attention_heads, peft_config.token_dim) == (
        layout.layers,
        layout.heads,
        layout.token_dim,
    )
    peft_model = get_peft_model(model, peft_config)
    weight = peft_model.prompt_encoder["default"].embedding.weight
    assert tuple(weight.shape) == (2, layout.layers * 2 * layout.token_dim)


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_the_refusal_table_lists_exactly_the_families_whose_model_takes_no_cache(
    family: str, family_base: Callable[[str], Path]
) -> None:
    base = family_base(family)
    kind = AutoModel if ALL_FAMILIES[family].kind == "encoder" else AutoModelForCausalLM
    config = AutoConfig.from_pretrained(base)
    model = kind.from_config(config)
    assert takes_cache(model) == (family not in NO_PREFIX)
    if family in NO_PREFIX:
        with pytest.raises(ConfigError) as refused:
            check_prefix_base(json.loads((base / "config.json").read_text()))
        message = str(refused.value)
        assert "\n" not in message and "--method prefix" in message and "--method lora" in message
        assert NO_PREFIX[family] in message  # the family, by name
    else:
        check_prefix_base(json.loads((base / "config.json").read_text()))


def test_a_config_that_sizes_its_cache_per_layer_is_refused() -> None:
    """Gemma-4-like configs (``global_head_dim``): PEFT provisions the widest layer and slices the others, which
    hub inference cannot check, so training refuses rather than publish what it could not serve."""
    config = {"model_type": "gemma4_text", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4}
    config |= {"num_key_value_heads": 2, "head_dim": 8, "global_head_dim": 16}
    assert prefix_layout(config) is None
    with pytest.raises(ConfigError, match="cannot size a prefix for gemma4_text bases"):
        check_prefix_base(config)
