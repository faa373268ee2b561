"""Per-sample prefix key/values: each sample's adapter prefix, stacked into the cache the base attends to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from adapterhub.methods.prefix import CONFIG_CACHE_TYPES

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter


def prefix_cache(adapters: Sequence[ResidentAdapter], rows: torch.Tensor, config: Any = None) -> Any:
    """A ``DynamicCache`` whose layer ``l`` holds, for sample ``j``, the keys and values of
    ``adapters[rows[j]]`` (all prefixes must have one length): the cache PEFT's ``get_prompt`` builds for one
    adapter on a base of ``config``. For Gemma 2 (and the Gemma types PEFT treats alike) PEFT builds it from the
    base's config, so sliding-window layers get a sliding-window cache; every other type gets plain layers."""
    from transformers import DynamicCache

    lengths = {adapter.prefix_length for adapter in adapters}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"prefix adapters of one forward pass need one prefix length, got {sorted(lengths)}")
    stacked = torch.stack([adapter.prefix for adapter in adapters])[rows]  # (B, L, 2, kv_heads, P, head_dim)
    per_layer = stacked.permute(1, 2, 0, 3, 4, 5)  # (L, 2, B, kv_heads, P, head_dim)
    model_type = str(getattr(config, "model_type", "") or "")
    if not any(kind in model_type for kind in CONFIG_CACHE_TYPES):
        return DynamicCache([(layer[0], layer[1]) for layer in per_layer])
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    cache = DynamicCache(config=text_config)
    positions = torch.arange(per_layer.shape[4], device=per_layer.device)
    for index, layer in enumerate(per_layer):
        cache.update(layer[0], layer[1], index, cache_kwargs={"cache_position": positions})
    return cache


def windowed(config: Any) -> bool:
    """Whether some attention layer of the base sees only a window of the latest cache positions (Mistral's
    ``sliding_window``, Gemma 2's sliding layers). The window counts cache slots, padding included, so a prefix
    put before a left-padded prompt would sit further from the prompt than it does when the prompt runs alone."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return any("sliding" in kind or "chunked" in kind for kind in layer_types)
    return bool(getattr(config, "sliding_window", None))
