"""Per-row layer edits on a shared base: the rows of each routed adapter see that adapter's edits alone.

A method whose adapters are no low-rank update and no prefix (its ``serving`` is ``"edits"``) gives each
resident adapter one :class:`~adapterhub.methods.method.LayerEdit` per layer it changes. Each such layer gets a
pre-hook (for edits of the input) and a hook (for edits of the output) while some hot adapter edits it. A batch
is routed as the same segments ``(start, stop, adapter)`` as the LoRA bank's, so its edited rows share a
forward pass with LoRA rows, prefix rows and bare rows: each segment's edit runs on that segment's rows only.
With no batch routed the hooks change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from adapterhub.inference.resident import ResidentAdapter

Segment = tuple[int, int, "ResidentAdapter"]


@dataclass
class _Hooks:
    before: Any
    after: Any
    users: int = 0


class RowEdits:
    """The edit hooks of one base; ``route`` applies a batch's adapters' edits for its forward passes."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self._layers: dict[str, _Hooks] = {}
        self._held: set[int] = set()
        self._segments: list[Segment] = []
        self._rows = 0

    @property
    def hooked(self) -> int:
        """Layers some hot adapter edits now."""
        return len(self._layers)

    def register(self, adapter: ResidentAdapter) -> None:
        """Hook every layer ``adapter`` edits (once per layer, however many adapters edit it)."""
        if id(adapter) in self._held or not adapter.edits:
            return
        self._held.add(id(adapter))
        for path in adapter.edits:
            layer = self._layers.get(path)
            if layer is None:
                module = self.root.get_submodule(path)
                layer = self._layers[path] = _Hooks(
                    module.register_forward_pre_hook(self._before(path)),
                    module.register_forward_hook(self._after(path)),
                )
            layer.users += 1

    def release(self, adapter: ResidentAdapter) -> None:
        """Undo :meth:`register`: a layer no hot adapter edits loses its hooks."""
        if id(adapter) not in self._held:
            return
        self._held.discard(id(adapter))
        for path in adapter.edits:
            layer = self._layers[path]
            layer.users -= 1
            if layer.users <= 0:
                layer.before.remove()
                layer.after.remove()
                del self._layers[path]

    @contextmanager
    def route(self, segments: Sequence[Segment]) -> Iterator[None]:
        """Within the block, rows ``start:stop`` of every forward pass get that segment's adapter's edits."""
        self._segments = [segment for segment in segments if segment[2].edits]
        self._rows = max((stop for _, stop, _ in segments), default=0)
        try:
            yield
        finally:
            self._segments, self._rows = [], 0

    def _spans(self, path: str, rows: int, side: str) -> list[tuple[int, int, Any]]:
        """(first row, end row, edit) of each routed segment that edits ``path`` on ``side``; a forward pass of
        ``rows`` rows holds ``rows // batch rows`` per request (e.g. beams), adjacent."""
        if not self._segments or not self._rows:
            return []
        scale = rows // self._rows
        out = []
        for lo, hi, adapter in self._segments:
            edit = adapter.edits.get(path)
            if edit is not None and getattr(edit, side):
                out.append((lo * scale, hi * scale, edit))
        return out

    def _before(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            if not args or not isinstance(args[0], torch.Tensor):
                return None
            spans = self._spans(path, args[0].shape[0], "on_input")
            if not spans:
                return None
            x = args[0].clone()  # the caller's tensor may be read again (a residual path)
            for lo, hi, edit in spans:
                x[lo:hi] = edit.before(x[lo:hi])
            return (x, *args[1:])

        return hook

    def _after(self, path: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                return None
            spans = self._spans(path, output.shape[0], "on_output")
            if not spans:
                return None
            out = output.clone()
            for lo, hi, edit in spans:
                out[lo:hi] = edit.after(out[lo:hi])
            return out

        return hook
