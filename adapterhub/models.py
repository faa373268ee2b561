"""Task models: a frozen transformer body and a small task head (``classifier``), pooled as the base was trained.

Sentence-transformers bases (such as all-MiniLM-L6-v2) were trained on mean-pooled token states, so a
classifier on the mean pool beats one on the [CLS] pooler by a wide margin; decoder bases pool the last real
token; other encoders the first token. PEFT wraps these models like any transformers model; the head is the
adapter's ``modules_to_save`` and travels in ``adapter_model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from adapterhub.base import cache_argument, load_base, resolve_base

Pooling = Literal["mean", "cls", "last"]
HeadKind = Literal["sequence", "token"]


@dataclass
class TaskOutput:
    """What a task model returns: logits (B, C) or (B, T, C), and the loss when labels were given."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None

    def __getitem__(self, key: str) -> Any:  # PEFT reads outputs by key
        return getattr(self, key)

    def keys(self) -> list[str]:
        return ["loss", "logits"] if self.loss is not None else ["logits"]


def pooling_for(base_id: str | None, config: Any) -> Pooling:
    """How the base was trained to pool: the sentence-transformers pooling config, else by architecture."""
    pooling_file = Path(resolve_base(base_id)) / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        modes = json.loads(pooling_file.read_text())
        if modes.get("pooling_mode_mean_tokens"):
            return "mean"
        if modes.get("pooling_mode_cls_token"):
            return "cls"
        if modes.get("pooling_mode_lasttoken"):
            return "last"
    return "last" if getattr(config, "is_decoder", False) or _is_causal(config) else "cls"


def _is_causal(config: Any) -> bool:
    archs = getattr(config, "architectures", None) or []
    return any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs)


class TaskModel(nn.Module):
    """``body`` (a transformers base model, frozen) + ``classifier`` (dropout and a linear layer: the task head).

    ``kind="sequence"`` pools the body's states into one vector per input; ``kind="token"`` classifies each
    token. Forward takes the usual ``input_ids``/``attention_mask``, and a prefix's key/values under either
    name PEFT hands them by (``cache`` from PEFT 0.22 under transformers 5.24+, ``past_key_values`` before);
    PEFT prepends the prefix's virtual tokens to the attention mask.

    What PEFT reads from the model it wraps, given here on purpose rather than by luck: ``config``,
    ``base_model_prefix``, ``num_labels``, ``get_input_embeddings()``, ``prepare_inputs_for_generation`` (probed
    for, never called: task models do not generate), and a ``forward`` whose signature names the cache keyword
    (without it PEFT runs the body and the head itself and pools nothing). ``tests/test_compat.py`` checks them.
    """

    # Where the transformers body sits, as on a transformers task model: transformers scopes its weight conversions
    # by it when PEFT wraps the model (mixture-of-experts bodies such as Mixtral's have such conversions).
    base_model_prefix = "body"

    def __init__(self, body: nn.Module, num_labels: int, kind: HeadKind, pooling: Pooling, dropout: float = 0.1):
        super().__init__()
        self.body = body
        self.config = body.config
        self.kind = kind
        self.pooling = pooling
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(body.config.hidden_size, num_labels))

    @property
    def num_labels(self) -> int:
        """How many classes the head scores (PEFT's sequence and token classification models read it)."""
        return int(self.classifier[-1].out_features)

    @property
    def base_model(self) -> nn.Module:
        """The transformer body (what the base fingerprint covers)."""
        return self.body

    @property
    def device(self) -> torch.device:
        return self.body.device

    @property
    def dtype(self) -> torch.dtype:
        return self.body.dtype

    def get_input_embeddings(self) -> nn.Module:
        return self.body.get_input_embeddings()

    def prepare_inputs_for_generation(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # PEFT probes for it
        raise NotImplementedError("task models classify; they do not generate")

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: torch.Tensor | None = None,
        cache: Any = None,
        **_: Any,
    ) -> TaskOutput:
        states = self.body(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            **cache_argument(self.body, cache if cache is not None else past_key_values),
        ).last_hidden_state  # (B, T, H)
        mask = attention_mask[:, -states.shape[1] :] if attention_mask is not None else None  # drop prefix columns
        features = states if self.kind == "token" else pool(states, mask, self.pooling)  # (B, T, H) or (B, H)
        logits = self.classifier(features)  # (B, T, C) or (B, C)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100
            )
        return TaskOutput(logits=logits, loss=loss)


def pool(states: torch.Tensor, mask: torch.Tensor | None, how: Pooling) -> torch.Tensor:
    """(B, T, H) states -> (B, H): mean over real tokens, the first token, or the last real token."""
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.long, device=states.device)
    if how == "mean":
        weights = mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-6)
    if how == "cls":
        return states[:, 0]
    last = mask.long().sum(1).clamp(min=1) - 1  # (B,) right padding assumed; PEFT's prefix mask columns are float
    return states[torch.arange(states.shape[0], device=states.device), last]


def build_task_model(
    base_id: str | None, num_labels: int, kind: HeadKind, dropout: float = 0.1, quantize: str | None = None
) -> TaskModel:
    """Load the base body (optionally quantized) and put a fresh head of ``num_labels`` classes on it."""
    body = load_base(base_id, "", quantize=quantize)
    if hasattr(body, "pooler"):
        body.pooler = None  # unused by every pooling above; keeps its weights out of the way
    model = TaskModel(body, num_labels, kind, pooling_for(base_id, body.config), dropout)
    model.classifier.to(body.device)  # a quantized body already sits on its GPU and cannot be moved as a whole
    return model


# the lines that pool the base's token states as the adapter's head was trained (the exports' README code)
POOL_CODE = {
    "mean": "mask = batch['attention_mask'].unsqueeze(-1).float()\nfeatures = (states * mask).sum(1) / mask.sum(1)",
    "cls": "features = states[:, 0]",
    "last": "features = states[torch.arange(len(states)), batch['attention_mask'].sum(1) - 1]",
}
