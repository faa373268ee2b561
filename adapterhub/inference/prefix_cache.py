"""Per-sample prefix key/values: each sample's adapter prefix, stacked into the cache the base attends to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter


def prefix_cache(adapters: Sequence[ResidentAdapter], rows: torch.Tensor) -> Any:
    """A ``DynamicCache`` whose layer ``l`` holds, for sample ``j``, the keys and values of
    ``adapters[rows[j]]`` (all prefixes must have one length). PEFT builds the same cache for one adapter."""
    from transformers import DynamicCache

    lengths = {adapter.prefix_length for adapter in adapters}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"prefix adapters of one forward pass need one prefix length, got {sorted(lengths)}")
    stacked = torch.stack([adapter.prefix for adapter in adapters])[rows]  # (B, L, 2, heads, P, head_dim)
    per_layer = stacked.permute(1, 2, 0, 3, 4, 5)  # (L, 2, B, heads, P, head_dim)
    return DynamicCache([(layer[0], layer[1]) for layer in per_layer])
