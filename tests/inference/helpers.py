"""Publishing adapters with random (non-zero) weights in the layout ``hub train`` writes, for inference tests."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from adapterhub.base import fingerprint
from adapterhub.methods import HeadSettings, LoraSettings, PrefixSettings
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, InferenceSettings, Registry
from adapterhub.tasks import get_task
from adapterhub.tasks.generate import TEMPLATE

SENTIMENT = ("negative", "positive")
TAGS = ("O", "B-person", "I-person", "B-location", "I-location")


def publish_adapter(
    registry: Registry,
    base_dir: Path,
    name: str,
    *,
    task: str = "sentiment",
    method: str = "lora",
    labels: tuple[str, ...] | None = None,
    seed: int = 0,
    r: int = 4,
    tokens: int = 4,
    targets: tuple[str, ...] | None = None,
    quantize: str | None = None,
    pooling: str | None = None,
) -> tuple[AdapterRecord, Any]:
    """Publish a random adapter of ``base_dir``; returns its record and the PEFT model it was saved from."""
    from peft import get_peft_model

    preset = get_task(task)
    labels = labels if labels is not None else (TAGS if task == "ner" else () if task == "generate" else SENTIMENT)
    model = preset.build_model(str(base_dir), labels, 0.0)
    base_print = fingerprint(model)
    settings = {
        "lora": LoraSettings(r=r, alpha=2 * r, dropout=0.0, target_modules=targets),
        "prefix": PrefixSettings(num_virtual_tokens=tokens),
        "head": HeadSettings(),
    }[method]
    model = get_peft_model(model, settings.peft_config(preset.task_type, model))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if param.requires_grad and not (method == "head" and "lora_" in pname):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    model.eval()
    hyper: dict[str, Any] = {"max_length": 64, "quantize": quantize}
    card = Card(
        task=task,
        task_type=preset.task_type,
        method=method,
        base=BaseInfo(id=str(base_dir), fingerprint=base_print),
        labels=labels,
        hyperparameters=hyper,
        inference=InferenceSettings(
            max_length=64,
            pooling=pooling,  # type: ignore[arg-type]
            quantize=quantize,  # type: ignore[arg-type]
            prompt_template=TEMPLATE if task == "generate" else None,
        ),
        metrics={},
        data=DataInfo(description="random weights"),
    )
    with tempfile.TemporaryDirectory() as out:
        model.save_pretrained(out, save_embedding_layers=False)
        record = registry.publish(name, out, card)
    return record, model
