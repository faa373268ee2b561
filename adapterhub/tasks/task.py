"""What every task preset provides (a Protocol: presets share no implementation by inheritance)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from adapterhub.data import Example, Kind

Encoded = dict[str, Any]  # input_ids: list[int], labels: int | list[int], length: int


class Task(Protocol):
    name: str
    kind: Kind  # which examples the data loader reads
    task_type: str  # PEFT task type
    metric: str  # headline metric
    greater_is_better: bool
    default_data: Path | None  # embedded data set used when --data is not given
    needs_base: bool  # True when the default base cannot do this task (e.g. generation needs a causal LM)

    def label_names(self, labels: Sequence[str]) -> tuple[str, ...]:
        """Names to store for the labels the data holds (e.g. 0/1 -> negative/positive)."""
        ...

    def build_model(
        self, base: str | None, labels: Sequence[str], dropout: float, quantize: str | None = None
    ) -> torch.nn.Module: ...

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        """Token ids and targets of one example, or None when nothing of it can be trained on."""
        ...

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]: ...

    def evaluate(
        self, model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], labels: Sequence[str]
    ) -> dict[str, float]: ...
