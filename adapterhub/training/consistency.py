"""R-Drop (Liang et al., 2021): each batch runs twice under different dropout masks, and the loss adds the
symmetric KL divergence between the two predictions, so the adapter learns outputs that dropout cannot move.

For classifiers and token taggers (``--rdrop ALPHA``; the paper's GLUE runs use 0.1 to 1). The two passes are
one forward pass over the batch stacked on itself; ``alpha`` weighs the KL term as the paper does.
"""

from __future__ import annotations

import torch
from torch.nn import functional


def rdrop_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    """Mean cross-entropy of both passes plus ``alpha / 4`` times (KL(p1 || p2) + KL(p2 || p1)): the paper's
    ``NLL1 + NLL2 + alpha / 2 * (KL + KL)`` halved, so that ``alpha = 0`` is the usual loss."""
    out = model(**{k: torch.cat([v, v]) for k, v in batch.items()})
    first, second = out.logits.float().chunk(2)
    labels = batch["labels"]
    if first.ndim == 3:  # token tagging: only the tokens that carry a tag
        scored = labels != -100
        first, second = first[scored], second[scored]
    p, q = functional.log_softmax(first, dim=-1), functional.log_softmax(second, dim=-1)
    both_ways = functional.kl_div(p, q, log_target=True, reduction="batchmean") + functional.kl_div(
        q, p, log_target=True, reduction="batchmean"
    )
    return out.loss + alpha / 4 * both_ways
