"""adapterhub.compat: every use of what PEFT, transformers and accelerate do not promise, tested one by one
against the installed releases, and nowhere else in the tree."""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PrefixTuningConfig, get_peft_model
from transformers import AutoModelForCausalLM

from adapterhub import compat
from adapterhub.models import TaskModel, build_task_model

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("peft", "transformers", "accelerate")
# Modules of these libraries whose documentation gives the names we import from them.
PUBLIC_MODULES = {
    "peft",
    "peft.optimizers",
    "transformers",
    "transformers.utils",
    "transformers.utils.logging",
    "accelerate",
    "accelerate.utils",
}


def _library(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in LIBRARIES


def _touches(path: Path) -> list[str]:
    """Imports from inside these libraries' packages, private names imported, and ``._name`` reached on them."""
    tree = ast.parse(path.read_text(), str(path))
    bound: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _library(alias.name):
                    bound.add((alias.asname or alias.name).split(".")[0])
                    if alias.name not in PUBLIC_MODULES:
                        found.append(f"{path.name}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and _library(node.module):
            if node.module not in PUBLIC_MODULES:
                found.append(f"{path.name}:{node.lineno} from {node.module}")
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if alias.name.startswith("_"):
                    found.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                found.append(f"{path.name}:{node.lineno} {root.id}….{node.attr}")
    return found


def test_no_module_but_compat_touches_a_library_internal() -> None:
    files = [p for p in (ROOT / "adapterhub").rglob("*.py") if p.name != "compat.py"]
    assert len(files) > 50
    assert [t for p in files for t in _touches(p)] == []


def test_the_check_finds_what_it_is_for() -> None:
    """The check above on compat.py itself: the touches it holds are found."""
    found = _touches(ROOT / "adapterhub" / "compat.py")
    assert any("accelerate.state" in t for t in found)
    assert any("_reset_state" in t for t in found)
    assert any("peft.tuners.tuners_utils" in t for t in found)


def test_peft_hands_a_task_model_s_prefix_under_the_keyword_compat_names(tiny_bert: Path) -> None:
    model = build_task_model(str(tiny_bert), 2, "sequence")
    assert compat.peft_cache_keyword() in inspect.signature(TaskModel.forward).parameters
    seen: dict[str, object] = {}
    original = TaskModel.forward

    @functools.wraps(original)  # PEFT reads the signature
    def spy(self: TaskModel, *args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return original(self, *args, **kwargs)

    peft_model = get_peft_model(model, PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=3))
    ids = torch.tensor([[1, 5, 6, 2]])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TaskModel, "forward", spy)
        logits = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert seen.get(compat.peft_cache_keyword()) is not None  # the prefix arrived where our forward reads it
    assert tuple(logits.shape) == (1, 2)  # our head pooled it: PEFT did not run the body and head itself


def test_a_task_model_gives_peft_what_it_reads(tiny_bert: Path) -> None:
    model = build_task_model(str(tiny_bert), 3, "token")
    assert model.num_labels == 3
    assert model.base_model_prefix == "body" and getattr(model, model.base_model_prefix) is model.body
    assert model.get_input_embeddings() is model.body.get_input_embeddings()
    assert model.config is model.body.config


def test_peft_s_default_lora_targets_are_read() -> None:
    llama = compat.lora_default_targets("llama")
    assert llama is not None and {"q_proj", "v_proj"} <= set(llama)
    assert compat.lora_default_targets("no-such-model-type") is None


def test_peft_s_target_matching_is_read() -> None:
    config = LoraConfig(target_modules=["query"], layers_to_transform=[1])
    assert compat.module_is_targeted(config, "encoder.layer.1.attention.self.query")
    assert not compat.module_is_targeted(config, "encoder.layer.1.attention.self.key")
    assert not compat.module_is_targeted(config, "encoder.layer.0.attention.self.query")


def test_accelerate_takes_other_settings_after_a_reset() -> None:
    from accelerate import Accelerator

    compat.reset_accelerate_state()
    assert Accelerator(cpu=True, gradient_accumulation_steps=1).gradient_accumulation_steps == 1
    compat.reset_accelerate_state()
    assert Accelerator(cpu=True, gradient_accumulation_steps=4).gradient_accumulation_steps == 4
    compat.reset_accelerate_state()


def test_dynamo_is_imported() -> None:
    compat.import_dynamo_first()
    assert "torch._dynamo" in sys.modules


def test_gpt2_s_transposed_linear_layers_count_as_linear(tiny_gpt2: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    assert isinstance(model.transformer.h[0].attn.c_attn, compat.linear_layer_types())


def test_peft_names_its_parts_as_compat_says(tiny_gpt2: Path) -> None:
    lora = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_gpt2),
        LoraConfig(target_modules=["c_attn"], modules_to_save=["lm_head"], task_type="CAUSAL_LM"),
    )
    trained = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trained and all(any(part in n for part in compat.PEFT_PARTS) for n in trained)
    prefix = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_gpt2), PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=2)
    )
    keys = [k for k in prefix.state_dict() if k.startswith(compat.prompt_encoder_key("default"))]
    assert keys and all(any(part in k for part in compat.PEFT_PARTS) for k in keys)


@pytest.mark.parametrize("what", sorted(compat.REIMPLEMENTED))
def test_each_reimplemented_forward_names_tests_that_exist(what: str) -> None:
    for node_id in compat.REIMPLEMENTED[what]:
        file, name = node_id.split("::")
        assert f"def {name}(" in (ROOT / file).read_text(), node_id


def test_peft_s_ia3_tables_give_targets_and_their_feed_forward_part() -> None:
    targets, feedforward = compat.ia3_default_targets("llama")
    assert {"k_proj", "v_proj", "down_proj"} <= set(targets) and feedforward == ["down_proj"]
    assert compat.ia3_default_targets("no-such-architecture") is None


def test_peft_s_ia3_feed_forward_rule_is_the_one_its_layers_follow() -> None:
    from peft import IA3Config

    config = IA3Config(target_modules=["k_proj", "down_proj"], feedforward_modules=["down_proj"])
    assert compat.ia3_is_feedforward(config, "model.layers.0.mlp.down_proj")
    assert not compat.ia3_is_feedforward(config, "model.layers.0.self_attn.k_proj")


def test_every_layer_a_tuner_wraps_is_a_tuner_layer(tiny_bert: Path) -> None:
    model = get_peft_model(build_task_model(str(tiny_bert), 2, "sequence"), LoraConfig(target_modules=["query"]))
    wrapped = [name for name, module in model.named_modules() if isinstance(module, compat.tuner_layer_type())]
    assert wrapped and all(name.endswith("query") for name in wrapped)
