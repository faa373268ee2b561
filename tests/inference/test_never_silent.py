"""An unknown adapter, an adapter for another base or one whose keys miss the base's modules is an error:
never a quiet fallback to the base's output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from adapterhub.errors import AdapterNotFound, ConfigError, IncompatibleAdapter
from adapterhub.inference import Hub
from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter
from tests.tiny import make_lora_adapter


def test_unknown_adapter_is_an_error(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment")
    with pytest.raises(AdapterNotFound, match=r"no adapter named 'sentimnet'.*available: sentiment"):
        hub.predict("text", adapter="sentimnet")
    with pytest.raises(AdapterNotFound, match="no version 9"):
        hub.predict("text", adapter="sentiment@9")
    with pytest.raises(AdapterNotFound, match="not loaded"):
        hub.unload("sentimnet")


def test_adapter_for_another_base_is_refused(hub: Hub, registry, tiny_bert, other_tiny_bert, tmp_path) -> None:
    record, _ = publish_adapter(registry, tiny_bert, "sentiment")
    # the same adapter, its card claiming the other base's id: the fingerprint still tells them apart
    moved = tmp_path / "moved"
    shutil.copytree(record.path, moved)
    card = json.loads((moved / "card.json").read_text())
    card["base"]["id"] = str(other_tiny_bert)
    (moved / "card.json").write_text(json.dumps(card))
    from adapterhub.registry import Card

    registry.publish("impostor", moved, Card.from_dict({k: v for k, v in card.items() if k not in ("files",)}))
    with pytest.raises(IncompatibleAdapter, match=r"trained on base .*cannot run on this base"):
        hub.predict("text", adapter="impostor")


def _republish_with_tensors(registry: Registry, record, name: str, tmp_path: Path, edit) -> None:
    """The adapter with edited tensors, as a registry may hold it from before publishing checked cards against
    tensors (publishing now refuses these: tests/registry/test_validation.py)."""
    from adapterhub.registry import Card
    from tests.registry.helpers import plant_version

    copy = tmp_path / name
    shutil.copytree(record.path, copy)
    tensors = load_file(copy / "adapter_model.safetensors")
    save_file(edit(tensors), copy / "adapter_model.safetensors")
    plant_version(registry, name, copy, Card.from_dict(json.loads((copy / "card.json").read_text())))


def test_keys_that_miss_the_base_modules_are_refused(hub: Hub, registry, tiny_bert, tmp_path) -> None:
    record, _ = publish_adapter(registry, tiny_bert, "sentiment")

    def renamed(tensors):  # a layer the 2-layer base does not have
        return {k.replace("layer.1.", "layer.7."): v for k, v in tensors.items()}

    def dropped(tensors):
        return {k: v for k, v in tensors.items() if "layer.1.attention.self.query.lora_B" not in k}

    _republish_with_tensors(registry, record, "renamed", tmp_path, renamed)
    _republish_with_tensors(registry, record, "dropped", tmp_path, dropped)
    with pytest.raises(IncompatibleAdapter, match=r"missing key\(s\).*layer\.1\."):
        hub.predict("text", adapter="renamed")
    with pytest.raises(IncompatibleAdapter, match=r"1 missing key\(s\).*layer\.1\.attention\.self\.query\.lora_B"):
        hub.predict("text", adapter="dropped")
    assert hub.loaded == []  # nothing half-loaded stays behind


def test_wrong_shapes_and_head_widths_are_refused(hub: Hub, registry, tiny_bert, tmp_path) -> None:
    record, _ = publish_adapter(registry, tiny_bert, "sentiment")

    def wider_head(tensors):
        return {k: (v.repeat(2, *([1] * (v.dim() - 1))) if "classifier" in k else v) for k, v in tensors.items()}

    def wrong_rank(tensors):
        return {k: (v[:2] if k.endswith("lora_A.weight") else v) for k, v in tensors.items()}

    _republish_with_tensors(registry, record, "wide", tmp_path, wider_head)
    _republish_with_tensors(registry, record, "rank", tmp_path, wrong_rank)
    with pytest.raises(IncompatibleAdapter, match="card has 2 labels"):
        hub.predict("text", adapter="wide")
    with pytest.raises(IncompatibleAdapter, match="LoRA shapes"):
        hub.predict("text", adapter="rank")


def test_adapter_with_a_transformers_head_is_refused_not_run_headless(hub: Hub, registry, tiny_bert, tmp_path) -> None:
    out, card = make_lora_adapter(tiny_bert, tmp_path / "hf-style")  # BertForSequenceClassification layout
    registry.publish("hf-style", out, card)
    with pytest.raises(IncompatibleAdapter, match="without its task head"):
        hub.predict("text", adapter="hf-style")


def test_quantized_hub_without_cuda_stops_at_once(registry) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        Hub(registry, quantize="4bit")
    with pytest.raises(ConfigError, match="no CUDA device"):
        Hub(registry, device="cuda")


def test_an_adapter_trained_on_a_quantized_base_is_not_run_on_the_full_precision_one(hub: Hub, registry, tiny_bert):
    publish_adapter(registry, tiny_bert, "qlora", quantize="4bit")
    with pytest.raises(ConfigError, match=r"qlora@1 was trained on a 4bit base .* this hub runs on cpu"):
        hub.predict("text", adapter="qlora")
