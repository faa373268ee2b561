"""Per-sample prefix key/values: each sample's adapter prefix, stacked into the cache the base attends to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from adapterhub.methods.prefix import CONFIG_CACHE_TYPES

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter


def prefix_cache(
    adapters: Sequence[ResidentAdapter], rows: torch.Tensor, config: Any = None
) -> tuple[Any, torch.Tensor]:
    """A ``DynamicCache`` whose layer ``l`` holds, for sample ``j``, the keys and values of
    ``adapters[rows[j]]``'s prefix (the cache PEFT's ``get_prompt`` builds for one adapter on a base of
    ``config``), and the (B, P) attention mask of those P cache positions.

    Prefixes of different lengths share one pass: each is right-aligned against the prompt and the positions
    before it are zeros the mask hides; a sample whose adapter has no prefix (LoRA, a head) gets P hidden
    positions. For Gemma 2 (and the Gemma types PEFT treats alike) PEFT builds the cache from the base's config,
    so sliding-window layers get a sliding-window cache; every other type gets plain layers."""
    from transformers import DynamicCache  # transformers: loaded on first use

    lengths = [adapter.prefix_length for adapter in adapters]
    longest = max(lengths)
    if longest == 0:
        raise ValueError("a prefix cache needs at least one prefix adapter")
    like = next(adapter.prefix for adapter in adapters if adapter.prefix is not None)  # (L, 2, kv_heads, P, hd)
    padded = []
    for adapter, length in zip(adapters, lengths, strict=True):
        pad = like.new_zeros((*like.shape[:3], longest - length, like.shape[4]))
        padded.append(pad if adapter.prefix is None else torch.cat([pad, adapter.prefix], dim=3))
    stacked = torch.stack(padded)[rows]  # (B, L, 2, kv_heads, P, head_dim)
    per_layer = stacked.permute(1, 2, 0, 3, 4, 5)  # (L, 2, B, kv_heads, P, head_dim)
    reach = torch.tensor(lengths, device=rows.device)[rows]  # (B,) each sample's own prefix length
    mask = (torch.arange(longest, device=rows.device)[None, :] >= longest - reach[:, None]).long()  # (B, P)
    model_type = str(getattr(config, "model_type", "") or "")
    if not any(kind in model_type for kind in CONFIG_CACHE_TYPES):
        return DynamicCache([(layer[0], layer[1]) for layer in per_layer]), mask
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    cache = DynamicCache(config=text_config)
    positions = torch.arange(per_layer.shape[4], device=per_layer.device)
    for index, layer in enumerate(per_layer):
        cache.update(layer[0], layer[1], index, cache_kwargs={"cache_position": positions})
    return cache, mask


def windowed(config: Any) -> bool:
    """Whether some attention layer of the base sees only a window of the latest cache positions (Mistral's
    ``sliding_window``, Gemma 2's sliding layers). The window counts cache slots, padding included, so a prefix
    put before a left-padded prompt would sit further from the prompt than it does when the prompt runs alone."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return any("sliding" in kind or "chunked" in kind for kind in layer_types)
    return bool(getattr(config, "sliding_window", None))
