"""Token-by-token decoding for generate adapters, with per-sample LoRA or prefixes routed by the caller.

A small loop rather than ``model.generate`` because a prefix adapter's key/values must sit in the cache before
the prompt, with positions continuing after them exactly as in training; the loop keeps that explicit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from adapterhub.base import cache_argument, forward_takes
from adapterhub.errors import ConfigError


@dataclass(frozen=True)
class GenerationOptions:
    """How to pick tokens: greedy when ``temperature`` is 0, else sampling (with ``top_k`` / ``top_p``).

    Any positive finite temperature samples; as it shrinks towards 0 sampling becomes greedy (a temperature
    too small to tell the likeliest tokens apart picks among the ones tied for first).
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")
        problems = []
        if not math.isfinite(self.temperature) or self.temperature < 0:
            problems.append(f"temperature must be a finite number >= 0, 0 for greedy (got {self.temperature})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0, 0 for all tokens (got {self.top_k})")
        if problems:
            raise ConfigError("; ".join(problems))


def decode(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    options: GenerationOptions,
    eos_id: int | None,
    cache: Any = None,
    prefix_mask: torch.Tensor | None = None,
    on_token: Callable[[int, int], None] | None = None,
) -> tuple[list[list[int]], list[bool]]:
    """Continue left-padded prompts (B, T); returns each sample's new token ids and whether it reached EOS.

    ``cache`` may hold prefixes already, with ``prefix_mask`` (B, P) saying which of its P positions each sample
    attends to; a sample's positions continue after its own prefix, as in training. The cache is extended in
    place, pass after pass: each step runs the new tokens alone.
    ``on_token(row, token_id)`` is called for every token a still-running sample receives, as it is picked.
    """
    from transformers import DynamicCache  # transformers: loaded on first use

    batch = input_ids.shape[0]
    device = input_ids.device
    generator = torch.Generator(device=device).manual_seed(options.seed) if options.seed is not None else None
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # padding does not shift positions
    mask = attention_mask
    if prefix_mask is not None:
        positions = positions + prefix_mask.sum(-1, keepdim=True)
        mask = torch.cat([prefix_mask.to(mask.dtype), mask], dim=1)
    cache = cache if cache is not None else DynamicCache()  # the model extends it in place, pass after pass
    # the prompt's logits but the last go unused: computed only where the model allows
    last = {"logits_to_keep": 1} if forward_takes(type(model), "logits_to_keep") else {}
    out = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        **cache_argument(model, cache),
        **last,
    )
    tokens: list[list[int]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    for step in range(options.max_new_tokens):
        nxt = _pick(out.logits[:, -1].float(), options, generator)  # (B,)
        for i in (~done).nonzero().flatten().tolist():
            tokens[i].append(int(nxt[i]))
            if on_token is not None:
                on_token(i, tokens[i][-1])
        if eos_id is not None:
            done |= nxt == eos_id
        if bool(done.all()) or step == options.max_new_tokens - 1:  # the last token needs no pass of its own
            break
        mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(
            input_ids=nxt[:, None],
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **cache_argument(model, cache),
        )
    finished = [bool(seq and seq[-1] == eos_id) for seq in tokens]
    return [seq[:-1] if fin else seq for seq, fin in zip(tokens, finished, strict=True)], finished


def _pick(logits: torch.Tensor, options: GenerationOptions, generator: torch.Generator | None) -> torch.Tensor:
    if options.temperature == 0:
        return logits.argmax(-1)
    # Subtract the row's maximum, then scale in float64: the likeliest token scores exactly 0 at any temperature,
    # so softmax always has a finite maximum. Dividing first overflows to inf for tiny temperatures (1e-300,
    # which float32 even rounds to 0) and softmax of inf - inf is nan; this way a tiny temperature gives the
    # greedy token its whole mass instead, the limit sampling tends to.
    logits = (logits.double() - logits.double().amax(-1, keepdim=True)) / options.temperature  # (B, V)
    if options.top_k:
        kth = logits.topk(min(options.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if options.top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(-1)
        drop = probs.cumsum(-1) - probs > options.top_p  # keep the smallest set reaching top_p
        logits = logits.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
