"""Per-row LoRA on a shared base through an adapter bank: every row of a batch gets its own adapter's update.

The bank keeps, for each adapted layer of the base, two device tensors that hold the factors of every hot
adapter: ``a`` (slots, R, in) and ``b`` (slots, R, out), with R the layer's rank bucket (the largest hot rank,
rounded up to a power of two; smaller ranks are padded with zero rows, which add nothing). An adapter made hot
gets one slot, the same in every layer, and its factors are copied in; the adapter's own ``lora`` entries then
view its slot, so a hot adapter's factors are held once. Slot 0 stays zero: rows of an adapter without LoRA
(a prefix or a head alone) use it. A released adapter gets its factors back as tensors of its own and its slot
is zeroed for the next one; the bank grows by doubling and shrinks (compacting its slots) when three quarters
stand empty, and a layer that no hot adapter updates loses its tensors and its hook.

A batch is routed as segments ``(start, stop, adapter)`` whose rows are contiguous per adapter (the caller
orders them so). Each adapted layer then adds ``x[rows] @ A.T @ B.T`` to its own output, in place, in one of
two ways, chosen once per batch by :func:`plan`:

- **segments** (the segmented product of Punica and S-LoRA): adjacent segments of one size form a run, and
  each run is one product pair: a dense ``addmm`` for a run of one adapter, a batched ``bmm`` over the run's
  adapters otherwise. Chosen when the LoRA rows form at most ``MAX_RUNS`` runs: one adapter, or many adapters
  with equal shares (the common case of a batch spread evenly), where each product is as large as it can be.
- **gathered** (BGMV): the factors of each row's slot are gathered from the bank with one ``index_select``
  per layer and the whole batch is one ``bmm`` pair, whatever the number of adapters and however unevenly the
  rows are spread. Chosen otherwise, so that the cost per layer never grows with the number of runs.

Either way there is no Python loop over adapters per layer, and the factors a batch needs are gathered once
per batch and reused by every forward pass within it: each step of a decode loop costs the products alone.
With no batch routed the hooks leave the base's output untouched, so the base's own outputs stay bit-identical
however many adapters come and go. Adapters served by layer edits rather than factors are routed along, by the
bank's :class:`~adapterhub.inference.row_edits.RowEdits`, over the same segments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from adapterhub.inference.resident import LoraFactors
from adapterhub.inference.row_edits import RowEdits

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter

Segment = tuple[int, int, "ResidentAdapter"]

MAX_RUNS = 4  # more runs than this and one gathered product pair costs less than a product pair per run
INITIAL_SLOTS = 8  # the bank's first size; it doubles as adapters come
ZERO_SLOT = 0  # never assigned: rows without LoRA gather zeros from it


def rank_bucket(rank: int) -> int:
    """The rank a layer's bank pads to: ``rank`` rounded up to a power of two."""
    return 1 << max(0, rank - 1).bit_length()


@dataclass
class _Layer:
    """One adapted layer's share of the bank: the factors of every slot, zero where a slot does not adapt it."""

    a: torch.Tensor  # (slots, R, in): PEFT's lora_A per slot
    b: torch.Tensor  # (slots, R, out): the transpose of lora_B, scale folded in
    hook: Any
    users: int = 0
    # where a batch's factors are gathered, kept from batch to batch: a fresh tensor of that size per layer and
    # batch costs more in page faults than the gather itself on a CPU
    work_a: torch.Tensor | None = None  # (rows, R, in)
    work_b: torch.Tensor | None = None  # (rows, R, out)

    def gather(self, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The factors of ``slots`` (n,) as the products read them: (n, in, R) and (n, R, out)."""
        count = slots.shape[0]
        if self.work_a is None or self.work_a.shape[0] < count or self.work_a.shape[1:] != self.a.shape[1:]:
            self.work_a = self.a.new_empty((count, *self.a.shape[1:]))
            self.work_b = self.b.new_empty((count, *self.b.shape[1:]))
        assert self.work_b is not None
        a = torch.index_select(self.a, 0, slots, out=self.work_a[:count])
        b = torch.index_select(self.b, 0, slots, out=self.work_b[:count])
        return a.transpose(1, 2), b


@dataclass
class _Run:
    """``count`` adjacent segments of ``size`` rows each from row ``start``: one product pair per layer. A run
    of several adapters reads their factors at ``offset`` in what the batch gathered."""

    start: int
    size: int
    adapters: list[ResidentAdapter]
    offset: int = 0


@dataclass
class Plan:
    """How one routed batch runs its LoRA rows: ``runs`` (the segment way) or one product over every row (the
    gathered way). ``slots`` are the slots whose factors each layer gathers at the batch's first pass (the
    runs' of several adapters, one after the other; or one per row) and ``gathered`` keeps them, by layer, for
    every later pass of the batch."""

    rows: int
    slots: torch.Tensor | None  # (n,)
    runs: list[_Run] | None = None
    gathered: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "segments" if self.runs is not None else "gathered"


def plan(segments: Sequence[Segment], slot_of: dict[int, int], device: torch.device) -> Plan | None:
    """The way a batch of ``segments`` runs (None when no row has LoRA): segment runs when the LoRA rows form
    at most :data:`MAX_RUNS` runs of adjacent equal-size segments, else one gathered product over every row."""
    rows = max((stop for _, stop, _ in segments), default=0)
    runs: list[_Run] = []
    group: list[Segment] = []

    def close() -> None:
        if group:
            runs.append(_Run(group[0][0], group[0][1] - group[0][0], [a for _, _, a in group]))
            group.clear()

    for segment in segments:
        lo, hi, adapter = segment
        if not adapter.lora:
            close()
            continue
        if group and (hi - lo != group[0][1] - group[0][0] or lo != group[-1][1]):
            close()
        group.append(segment)
    close()
    if not runs:
        return None
    if len(runs) <= MAX_RUNS:
        stacked: list[int] = []
        for run in runs:
            if len(run.adapters) > 1:
                run.offset = len(stacked)
                stacked += [slot_of[id(a)] for a in run.adapters]
        return Plan(rows, torch.tensor(stacked, device=device) if stacked else None, runs=runs)
    slots = [ZERO_SLOT] * rows
    for lo, hi, adapter in segments:
        if adapter.lora:
            slots[lo:hi] = [slot_of[id(adapter)]] * (hi - lo)
    return Plan(rows, torch.tensor(slots, device=device))


class LoraBank:
    """The bank of one base, and the hooks that apply it; ``route`` applies a batch's adapters for the duration
    of its forward passes."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self._layers: dict[str, _Layer] = {}
        self._slots: list[ResidentAdapter | None] = [None] * (INITIAL_SLOTS + 1)  # [0] is the zero slot
        self._slot_of: dict[int, int] = {}
        self._plan: Plan | None = None
        self.edits = RowEdits(root)

    @property
    def hooked(self) -> int:
        """Layers the bank adapts now (each with a hook and its tensors), and layers hot adapters edit."""
        return len(self._layers) + self.edits.hooked

    @property
    def capacity(self) -> int:
        """Adapters the bank holds without growing."""
        return len(self._slots) - 1

    @property
    def nbytes(self) -> int:
        """Bytes of the bank's tensors (free slots and rank padding included)."""
        return sum(t.numel() * t.element_size() for layer in self._layers.values() for t in (layer.a, layer.b))

    def slot(self, adapter: ResidentAdapter) -> int | None:
        """The slot ``adapter`` holds (None when it holds none)."""
        return self._slot_of.get(id(adapter))

    def register(self, adapter: ResidentAdapter) -> None:
        """Give ``adapter`` a slot and copy its factors in; its ``lora`` entries then view the bank. Its layer
        edits, if any, are hooked."""
        self.edits.register(adapter)
        if id(adapter) in self._slot_of or not adapter.lora:
            return
        if None not in self._slots[1:]:
            self._resize(2 * self.capacity)
        slot = self._slots.index(None, 1)
        self._slots[slot] = adapter
        self._slot_of[id(adapter)] = slot
        for path, factors in adapter.lora.items():
            layer = self._layers.get(path) or self._add_layer(path, factors)
            if factors.rank > layer.a.shape[1]:
                self._widen(path, rank_bucket(factors.rank))
                layer = self._layers[path]
            rank = factors.rank
            layer.a[slot, :rank].copy_(factors.a)
            layer.b[slot, :rank].copy_(factors.b_t)
            adapter.lora[path] = LoraFactors(layer.a[slot, :rank], layer.b[slot, :rank])
            layer.users += 1

    def release(self, adapter: ResidentAdapter) -> None:
        """Undo :meth:`register`: ``adapter`` gets its factors back as tensors of its own and its slot is
        zeroed and freed; a layer no hot adapter updates loses its tensors and its hook; its layer edits are
        unhooked."""
        self.edits.release(adapter)
        slot = self._slot_of.pop(id(adapter), None)
        if slot is None:
            return
        self._slots[slot] = None
        for path, factors in adapter.lora.items():
            adapter.lora[path] = LoraFactors(factors.a.clone(), factors.b_t.clone())
            layer = self._layers[path]
            layer.a[slot].zero_()
            layer.b[slot].zero_()
            layer.users -= 1
            if layer.users <= 0:
                layer.hook.remove()
                del self._layers[path]
        held = len(self._slot_of)
        if self.capacity > INITIAL_SLOTS and held <= self.capacity // 4:
            self._resize(max(INITIAL_SLOTS, self.capacity // 2))

    @contextmanager
    def route(self, segments: Sequence[Segment]) -> Iterator[Plan | None]:
        """Within the block, rows ``start:stop`` of every forward pass use that segment's adapter."""
        device = next(iter(self._layers.values())).a.device if self._layers else torch.device("cpu")
        self._plan = plan(segments, self._slot_of, device)
        try:
            with self.edits.route(segments):
                yield self._plan
        finally:
            self._plan = None

    # ------------------------------------------------------------------------------------------- the bank

    def _add_layer(self, path: str, factors: LoraFactors) -> _Layer:
        like = factors.a
        slots, rank = len(self._slots), rank_bucket(factors.rank)
        layer = _Layer(
            a=like.new_zeros((slots, rank, factors.a.shape[1])),
            b=like.new_zeros((slots, rank, factors.b_t.shape[1])),
            hook=self.root.get_submodule(path).register_forward_hook(self._hook_for(path)),
        )
        self._layers[path] = layer
        return layer

    def _widen(self, path: str, rank: int) -> None:
        """Pad ``path``'s bank to ``rank`` (a hot adapter of a larger rank came)."""
        layer = self._layers[path]
        old = layer.a.shape[1]
        a = layer.a.new_zeros((layer.a.shape[0], rank, layer.a.shape[2]))
        b = layer.b.new_zeros((layer.b.shape[0], rank, layer.b.shape[2]))
        a[:, :old], b[:, :old] = layer.a, layer.b
        layer.a, layer.b = a, b
        self._point(path, {slot: slot for slot in self._slot_of.values()})

    def _resize(self, capacity: int) -> None:
        """Rebuild every layer's tensors with ``capacity`` slots, the hot adapters' slots compacted to the
        front in their order, and point each adapter at its new slot."""
        moved = {old: new for new, old in enumerate(sorted(self._slot_of.values()), start=1)}
        slots: list[ResidentAdapter | None] = [None] * (capacity + 1)
        for old, new in moved.items():
            slots[new] = self._slots[old]
        for layer in self._layers.values():
            a = layer.a.new_zeros((capacity + 1, *layer.a.shape[1:]))
            b = layer.b.new_zeros((capacity + 1, *layer.b.shape[1:]))
            if moved:
                old_index = torch.tensor(list(moved), device=a.device)
                new_index = torch.tensor(list(moved.values()), device=a.device)
                a[new_index], b[new_index] = layer.a[old_index], layer.b[old_index]
            layer.a, layer.b = a, b
        self._slots = slots
        self._slot_of = {id(adapter): new for new, adapter in enumerate(slots) if adapter is not None}
        for path in self._layers:
            self._point(path, moved)

    def _point(self, path: str, moved: dict[int, int]) -> None:
        """Re-point the ``path`` entries of the adapters in ``moved`` (old slot -> new) at the layer's tensors."""
        layer = self._layers[path]
        for new in moved.values():
            adapter = self._slots[new]
            assert adapter is not None
            factors = adapter.lora.get(path)
            if factors is not None:
                adapter.lora[path] = LoraFactors(layer.a[new, : factors.rank], layer.b[new, : factors.rank])

    # --------------------------------------------------------------------------------------------- the hook

    def _hook_for(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            batch = self._plan
            layer = self._layers.get(path)
            if batch is None or layer is None:
                return None
            x = args[0]
            if x.dtype != layer.a.dtype:
                x = x.to(layer.a.dtype)
            scale = x.shape[0] // batch.rows  # > 1 when each row holds several (e.g. beams)
            result = output if output.is_contiguous() else output.contiguous()
            gathered = batch.gathered.get(path)
            if gathered is None and batch.slots is not None:  # the batch's first pass: gather its factors
                gathered = batch.gathered[path] = layer.gather(batch.slots)
            if batch.runs is not None:
                for run in batch.runs:
                    _run_product(run, path, gathered, x, result, scale)
            else:
                assert gathered is not None
                a_t, b = gathered
                rows = x.reshape(batch.rows, -1, x.shape[-1])  # (B, n, in): each row's tokens
                target = result.view(batch.rows, -1, result.shape[-1])
                target.baddbmm_(torch.bmm(rows, a_t).to(result.dtype), b.to(result.dtype))
            return None if result is output else result

        return hook


def _run_product(
    run: _Run,
    path: str,
    gathered: tuple[torch.Tensor, torch.Tensor] | None,
    x: torch.Tensor,
    out: torch.Tensor,
    scale: int,
) -> None:
    """``out[rows] += x[rows] @ A.T @ B.T`` for each segment of ``run`` at layer ``path``, in place; ``scale``
    rows per row of the batch. One adapter uses its own factors (its rank, no padding); several read theirs
    from ``gathered``. Rows are cast to the factors' dtype and the update to the output's (no-ops when they
    agree; a quantized layer may take or return another dtype than its adapters')."""
    count = len(run.adapters)
    lo, hi = run.start * scale, (run.start + run.size * count) * scale
    if count == 1:
        own = run.adapters[0].lora.get(path)
        if own is None:  # the adapter does not adapt this layer
            return
        rows = x[lo:hi].reshape(-1, x.shape[-1]).to(own.a.dtype)
        out[lo:hi].view(-1, out.shape[-1]).addmm_((rows @ own.a.t()).to(out.dtype), own.b_t.to(out.dtype))
        return
    assert gathered is not None
    a_t, b = gathered[0][run.offset : run.offset + count], gathered[1][run.offset : run.offset + count]
    rows = x[lo:hi].reshape(count, -1, x.shape[-1]).to(a_t.dtype)  # (U, n, in): contiguous per adapter
    target = out[lo:hi].view(count, -1, out.shape[-1])
    target.baddbmm_(torch.bmm(rows, a_t).to(out.dtype), b.to(out.dtype))
