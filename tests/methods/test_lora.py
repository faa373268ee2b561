"""Default LoRA targets: every family of tests/families.py (ALL_FAMILIES) has them; an unknown architecture is
one clear line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapterhub.errors import ConfigError
from adapterhub.methods import HeadSettings, LoraSettings
from adapterhub.methods.lora import linear_layer_names
from tests.families import ALL_FAMILIES


@pytest.mark.parametrize("family", list(ALL_FAMILIES))
def test_every_family_adapts_its_attention_and_feed_forward_linears(
    family: str, family_base: Callable[[str], Path]
) -> None:
    from peft import get_peft_model
    from transformers import AutoModel

    model = AutoModel.from_pretrained(family_base(family))
    targets, linears = LoraSettings().targets(model), set(linear_layer_names(model))
    adapted = get_peft_model(model, LoraSettings(r=2).peft_config("FEATURE_EXTRACTION", model))
    wrapped = {name.rsplit(".", 1)[-1] for name, m in adapted.named_modules() if hasattr(m, "lora_A")}
    assert {t.rsplit(".", 1)[-1] for t in targets} <= wrapped  # every default names a layer the family has
    # attention and feed-forward: every linear layer of the blocks is adapted, but ALBERT's factorised embedding
    # mapping and DeBERTa's relative-position projections (absent when shared with the keys, as in DeBERTa-v3)
    untouched = linears - wrapped - {"embedding_hidden_mapping_in", "pos_key_proj", "pos_query_proj"}
    assert not untouched, f"{family}: {sorted(untouched)} are not adapted"


@pytest.mark.parametrize("family", list(ALL_FAMILIES))
def test_the_head_method_finds_its_module_on_every_family(family: str, family_base: Callable[[str], Path]) -> None:
    from peft import get_peft_model

    from adapterhub.tasks import get_task

    task = get_task("classify")
    model = task.build_model(str(family_base(family)), ("a", "b"), 0.0)
    peft_model = get_peft_model(model, HeadSettings().peft_config(task.task_type, model))
    assert sum(1 for _, m in peft_model.named_modules() if hasattr(m, "lora_A")) == 1


def test_an_unknown_architecture_names_its_type_and_its_linear_layers(tmp_path: Path) -> None:
    from transformers import AutoModel, RoFormerConfig

    config = RoFormerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, embedding_size=16)  # fmt: skip
    model = AutoModel.from_config(config)
    with pytest.raises(ConfigError) as info:
        LoraSettings().targets(model)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("no default LoRA target modules for model type 'roformer'; pass --target-modules")
    assert "(dense, key, query, value), e.g. --target-modules dense,key" in message
    assert LoraSettings(target_modules=("query",)).targets(model) == ["query"]
