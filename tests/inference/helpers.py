"""Publishing adapters with random (non-zero) weights in the layout ``hub train`` writes, for inference tests."""

from __future__ import annotations

import tempfile
from dataclasses import replace
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
    card_fields: dict[str, Any] | None = None,
) -> tuple[AdapterRecord, Any]:
    """Publish a random adapter of ``base_dir``; returns its record and the PEFT model it was saved from.
    ``card_fields`` replace the card's own (metrics, history, tags...)."""
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
    card = replace(card, **(card_fields or {}))
    with tempfile.TemporaryDirectory() as out:
        model.save_pretrained(out, save_embedding_layers=False)
        record = registry.publish(name, out, card)
    return record, model


def prompt_ids(tokenizer: Any, prompt: str) -> torch.Tensor:
    """(1, T) ids of ``prompt`` as the Hub feeds a generate adapter: the template, after the BOS token."""
    ids = tokenizer(TEMPLATE.format(prompt=prompt), return_tensors="pt")["input_ids"]
    return torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)


def peft_greedy(model: Any, ids: torch.Tensor, max_new_tokens: int, eos_id: int | None) -> list[int]:
    """Greedy tokens from PEFT's own forward, the whole sequence again for every token (no cache to get wrong).

    Not ``model.generate``: under transformers 5.x, PEFT's ``generate`` hands a prefix over as ``past_key_values``
    beside the ``cache`` that generation passes, and the model keeps ``cache``, so the prefix is dropped."""
    new: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            nxt = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, -1].argmax(-1)  # (1,)
            if eos_id is not None and int(nxt) == eos_id:
                break
            new.append(int(nxt))
            ids = torch.cat([ids, nxt[:, None]], 1)
    return new
