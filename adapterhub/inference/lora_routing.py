"""Per-sample LoRA on a shared base: every sample of a batch gets its own adapter's low-rank update.

Each adapted layer of the base carries a forward hook. The caller orders a batch so that the samples of one
adapter are contiguous, and routes the batch as segments ``(start, stop, adapter)``. The hook then adds, for
each segment, ``x[start:stop] @ A.T @ B.T`` to the base output of those rows, in place: two dense matrix
products per adapter on contiguous rows, with no gather or copy of activations (the segmented product of
Punica and S-LoRA). Its cost grows with the tokens in the batch, not with the number of adapters in it.
With no batch routed, the hooks leave the base's output untouched, so the base's own outputs stay
bit-identical however many adapters come and go.

Adjacent segments of equal size (the caller orders adapters by their sample count) form one run computed by
a single batched product pair, so a batch of 32 samples for 32 adapters costs two calls per layer, not 64.
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

Segment = tuple[int, int, "ResidentAdapter"]


class _Run:
    """``count`` adjacent segments of ``size`` samples each, starting at row ``start``, all updating one layer:
    one matrix product pair for the whole run (batched when it spans several adapters)."""

    def __init__(self, start: int, size: int, factors: list[LoraFactors]) -> None:
        self.start, self.size, self.count = start, size, len(factors)
        if self.count == 1:
            self.a_t, self.b_t = factors[0].a.t(), factors[0].b_t  # (in, r), (r, out)
            return
        ranks = [f.a.shape[0] for f in factors]
        rank = max(ranks)
        if min(ranks) == rank:
            a, b_t = torch.stack([f.a for f in factors]), torch.stack([f.b_t for f in factors])
        else:  # zero rows make every adapter the largest rank; they add nothing
            a = torch.stack([_pad_rows(f.a, rank) for f in factors])
            b_t = torch.stack([_pad_rows(f.b_t, rank) for f in factors])
        self.a_t, self.b_t = a.transpose(1, 2), b_t  # (U, in, r), (U, r, out)

    def apply(self, x: torch.Tensor, out: torch.Tensor, scale: int) -> None:
        """``out[rows] += x[rows] @ A.T @ B.T`` per segment, in place; ``scale`` rows per sample. Rows are cast
        to the adapter's dtype and the update to the output's (no-ops when they agree; a quantized layer may
        take or return another dtype than its adapters')."""
        lo, hi = self.start * scale, (self.start + self.size * self.count) * scale
        b_t = self.b_t.to(out.dtype)
        if self.count == 1:
            rows = x[lo:hi].reshape(-1, x.shape[-1]).to(self.a_t.dtype)
            out[lo:hi].view(-1, out.shape[-1]).addmm_((rows @ self.a_t).to(out.dtype), b_t)
            return
        rows = x[lo:hi].reshape(self.count, -1, x.shape[-1]).to(self.a_t.dtype)  # (U, n, in): contiguous per adapter
        target = out[lo:hi].view(self.count, -1, out.shape[-1])
        target.baddbmm_(torch.bmm(rows, self.a_t).to(out.dtype), b_t)


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    return t if t.shape[0] == rows else torch.cat([t, t.new_zeros((rows - t.shape[0], *t.shape[1:]))])


class LoraRouter:
    """Owns the hooks on one base; ``route`` applies a batch's adapters for the duration of a forward pass."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self._hooks: dict[str, Any] = {}
        self._users: Counter[str] = Counter()
        self._plan: dict[str, list[_Run]] = {}
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
        self._plan = self._runs(segments)
        self._rows = max((stop for _, stop, _ in segments), default=0)
        try:
            yield
        finally:
            self._plan, self._rows = {}, 0

    @staticmethod
    def _runs(segments: Sequence[Segment]) -> dict[str, list[_Run]]:
        plan: dict[str, list[_Run]] = {}
        for path in {p for _, _, adapter in segments for p in adapter.lora}:
            runs: list[_Run] = []
            start = size = 0
            factors: list[LoraFactors] = []
            for lo, hi, adapter in segments:
                f = adapter.lora.get(path)
                if factors and (f is None or hi - lo != size or lo != start + size * len(factors)):
                    runs.append(_Run(start, size, factors))
                    factors = []
                if f is not None:
                    if not factors:
                        start, size = lo, hi - lo
                    factors.append(f)
            if factors:
                runs.append(_Run(start, size, factors))
            plan[path] = runs
        return plan

    def _hook_for(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            runs = self._plan.get(path)
            if not runs:
                return None
            x = args[0]
            if x.dtype != runs[0].a_t.dtype:
                x = x.to(runs[0].a_t.dtype)
            scale = x.shape[0] // self._rows  # > 1 when each sample holds several rows (e.g. beams)
            result = output if output.is_contiguous() else output.contiguous()
            for run in runs:
                run.apply(x, result, scale)
            return None if result is output else result

        return hook
