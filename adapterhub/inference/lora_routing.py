"""Per-sample LoRA on a shared base: every sample of a batch gets its own adapter's low-rank update.

Each adapted layer of the base carries a forward hook. While a batch runs, the hook adds
``x @ A[i].T @ B[i].T`` for each sample's adapter ``i``: the A and B factors of the adapters in the batch are
stacked once per batch and gathered per sample, so one batched matrix product serves any mix of adapters
(the gathered product of Punica and S-LoRA). With no batch routed, the hooks return the base's output
untouched, so the base's own outputs stay bit-identical however many adapters come and go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from adapterhub.inference.resident import LoraFactors, ResidentAdapter


class _Single:
    """Every sample uses the same adapter: two plain matrix products."""

    def __init__(self, factors: LoraFactors) -> None:
        self.a_t = factors.a.t()  # (in, r)
        self.b_t = factors.b.t()  # (r, out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(self.a_t.dtype) @ self.a_t) @ self.b_t


class _Gathered:
    """Samples use different adapters: per-sample factors gathered from a stack, then batched products."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, rows: torch.Tensor) -> None:
        self.a_t = a[rows].transpose(1, 2)  # (B, in, r)
        self.b_t = b[rows].transpose(1, 2)  # (B, r, out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        a_t, b_t = self.a_t, self.b_t
        if n != a_t.shape[0]:  # e.g. several candidates per sample: each sample's rows are contiguous
            a_t = a_t.repeat_interleave(n // a_t.shape[0], 0)
            b_t = b_t.repeat_interleave(n // b_t.shape[0], 0)
        flat = x.reshape(n, -1, x.shape[-1]).to(a_t.dtype)  # (B, T, in)
        return torch.bmm(torch.bmm(flat, a_t), b_t).reshape(*x.shape[:-1], -1)


class LoraRouter:
    """Owns the hooks on one base; ``route`` applies a batch's adapters for the duration of a forward pass."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self._hooks: dict[str, Any] = {}
        self._users: Counter[str] = Counter()
        self._plan: dict[str, _Single | _Gathered] | None = None

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
    def route(self, adapters: Sequence[ResidentAdapter], rows: torch.Tensor) -> Iterator[None]:
        """Within the block, sample ``j`` of every forward pass uses ``adapters[rows[j]]``."""
        self._plan = self._build(adapters, rows)
        try:
            yield
        finally:
            self._plan = None

    def _build(self, adapters: Sequence[ResidentAdapter], rows: torch.Tensor) -> dict[str, _Single | _Gathered]:
        paths = {path for adapter in adapters for path in adapter.lora}
        used = sorted(set(rows.tolist()))
        if len(used) == 1:
            only = adapters[used[0]]
            return {path: _Single(only.lora[path]) for path in only.lora}
        plan: dict[str, _Single | _Gathered] = {}
        for path in paths:
            factors = [adapter.lora.get(path) for adapter in adapters]
            present = [f for f in factors if f is not None]
            rank = max(f.rank for f in present)
            a0, b0 = present[0].a, present[0].b
            a = a0.new_zeros((len(factors), rank, a0.shape[1]))  # adapters without this layer keep zeros
            b = b0.new_zeros((len(factors), b0.shape[0], rank))
            for i, f in enumerate(factors):
                if f is not None:
                    a[i, : f.rank] = f.a
                    b[i, :, : f.rank] = f.b
            plan[path] = _Gathered(a, b, rows)
        return plan

    def _hook_for(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            plan = self._plan
            step = plan.get(path) if plan is not None else None
            if step is None:
                return None
            return output + step(args[0]).to(output.dtype)

        return hook
