"""Per-sample LoRA on a shared base: every sample of a batch gets its own adapter's low-rank update.

Each adapted layer of the base carries a forward hook. The caller orders a batch so that the samples of one
adapter are contiguous, and routes the batch as segments ``(start, stop, adapter)``. The hook then adds, for
each segment, ``x[start:stop] @ A.T @ B.T`` to the base output of those rows, in place: two dense matrix
products per adapter on contiguous rows, with no gather or copy of activations (the segmented product of
Punica and S-LoRA). Its cost grows with the tokens in the batch, not with the number of adapters in it.
With no batch routed, the hooks leave the base's output untouched, so the base's own outputs stay
bit-identical however many adapters come and go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter

Segment = tuple[int, int, "ResidentAdapter"]


class LoraRouter:
    """Owns the hooks on one base; ``route`` applies a batch's adapters for the duration of a forward pass."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self._hooks: dict[str, Any] = {}
        self._users: Counter[str] = Counter()
        self._segments: Sequence[Segment] = ()
        self._rows = 0

    @property
    def hooked(self) -> int:
        return len(self._hooks)

    def register(self, adapter: ResidentAdapter) -> None:
        """Hook the layers ``adapter`` updates (layers already hooked for other adapters are shared)."""
        for path in adapter.lora:
            if path not in self._hooks:
                self._hooks[path] = self.root.get_submodule(path).register_forward_hook(self._hook_for(path))
            self._users[path] += 1

    def release(self, adapter: ResidentAdapter) -> None:
        """Undo :meth:`register`; a layer no resident adapter updates loses its hook."""
        for path in adapter.lora:
            self._users[path] -= 1
            if self._users[path] <= 0:
                del self._users[path]
                self._hooks.pop(path).remove()

    @contextmanager
    def route(self, segments: Sequence[Segment]) -> Iterator[None]:
        """Within the block, rows ``start:stop`` of every forward pass use that segment's adapter."""
        self._segments = [s for s in segments if s[2].lora]
        self._rows = max((stop for _, stop, _ in segments), default=0)
        try:
            yield
        finally:
            self._segments, self._rows = (), 0

    def _hook_for(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            if not self._segments:
                return None
            x = args[0]
            scale = x.shape[0] // self._rows  # > 1 when each sample holds several rows (e.g. beams)
            in_place = output.is_contiguous()
            result = output if in_place else output.clone(memory_format=torch.contiguous_format)
            for start, stop, adapter in self._segments:
                factors = adapter.lora.get(path)
                if factors is None:
                    continue
                rows = x[start * scale : stop * scale]
                low = rows.reshape(-1, rows.shape[-1]).to(factors.a.dtype) @ factors.a.t()  # (n, r)
                target = result[start * scale : stop * scale].view(-1, result.shape[-1])
                target.addmm_(low.to(target.dtype), factors.b.t().to(target.dtype))
            return None if in_place else result

        return hook
