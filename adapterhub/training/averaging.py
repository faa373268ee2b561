"""An exponential moving average of the trainable (adapter and head) weights, for ``--ema``.

Evaluating and keeping the average rather than the last step's weights smooths out the noise of the final
optimizer steps; the base is never touched (it is not trainable).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class WeightAverage:
    """``shadow = d * shadow + (1 - d) * weights`` after each optimizer step, with the usual warm start
    ``d = min(decay, (1 + n) / (10 + n))`` so early steps are not dominated by the initial weights."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        # a sharded (FSDP) run averages each process's own shard
        self.params = [_local(p) for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block and its own weights again after it."""
        with torch.no_grad():
            own = [p.detach().clone() for p in self.params]
            torch._foreach_copy_(self.params, self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, own)


def _local(param: torch.Tensor) -> torch.Tensor:
    """The tensor this process holds: its shard of an FSDP weight (same storage), else the weight itself."""
    return param.to_local() if hasattr(param, "to_local") else param
