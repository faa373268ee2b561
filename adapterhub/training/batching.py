"""Length-grouped batches: examples of similar length share a batch, so dynamic padding pads little."""

from __future__ import annotations

import random
from collections.abc import Sequence


def length_grouped(lengths: Sequence[int], batch_size: int, seed: int, group: int = 50) -> list[list[int]]:
    """Shuffle, then sort by length inside windows of ``batch_size * group`` examples, cut into batches and
    shuffle the batches (the longest first, so running out of memory happens at once, not late)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * group
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: -lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if not batches:
        return []
    longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
    first = batches.pop(longest)
    rng.shuffle(batches)
    return [first, *batches]


def by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches for evaluation: sorted by length, so padding is minimal."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
