"""Tiny random models and adapters for tests: 2 layers, hidden 32, seeded."""

from __future__ import annotations

from pathlib import Path

import torch

from adapterhub.base import fingerprint, load_base
from adapterhub.registry import BaseInfo, Card, DataInfo

LABELS = ("negative", "positive")


def save_tiny_bert(directory: Path, seed: int, layers: int = 2) -> Path:
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    return directory


def make_lora_adapter(base_dir: Path, out: Path, seed: int = 0, r: int = 4) -> tuple[Path, Card]:
    """Save a non-trivial LoRA sequence-classification adapter of ``base_dir`` to ``out`` and its card."""
    from peft import LoraConfig, get_peft_model

    base = load_base(str(base_dir), "SEQ_CLS", num_labels=len(LABELS))
    torch.manual_seed(seed)
    config = LoraConfig(
        task_type="SEQ_CLS", r=r, lora_alpha=2 * r, target_modules=["query", "value"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    with torch.no_grad():  # a trained head, not the random one every load would draw afresh
        for p in model.base_model.model.classifier.modules_to_save["default"].parameters():
            p.normal_()
    model.save_pretrained(out)
    card = Card(
        task="sentiment",
        task_type="SEQ_CLS",
        method="lora",
        base=BaseInfo(id=str(base_dir), fingerprint=fingerprint(base)),
        labels=LABELS,
        method_config={"r": r, "alpha": 2 * r, "target_modules": ["query", "value"]},
        metrics={"accuracy": 0.5 + seed / 100},
        headline_metric="accuracy",
        data=DataInfo(description="synthetic", fingerprint="sha256:0", train_examples=10, eval_examples=2),
        tags=("test",),
    )
    return out, card


def inputs(batch: int = 3, length: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (batch, length), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
