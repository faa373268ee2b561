"""Dynamic padding: each batch is padded to its own longest example, not to --max-length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def pad(sequences: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """Right-pad integer sequences into a (B, T) tensor, T the longest in the batch."""
    import torch  # torch: loaded on first use

    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), value, dtype=torch.long)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def pad_inputs(batch: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    ids = [b["input_ids"] for b in batch]
    return {"input_ids": pad(ids, pad_id), "attention_mask": pad([[1] * len(s) for s in ids], 0)}
