"""What every task preset provides (a Protocol: presets share no implementation by inheritance)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from adapterhub.data import Example, Kind

Encoded = dict[str, Any]  # input_ids: list[int], labels: int | list[int], length: int


@dataclass(frozen=True)
class Chance:
    """What the headline metric scores with nothing learned: an adapter at or below it is of no use.

    Attributes:
        value: The score (for a metric where lower is better, an adapter at or above it is of no use).
        how: In words, what scores it, e.g. "always predicting the majority class 'positive', 26 of 50".
    """

    value: float
    how: str


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

    def chance(self, evals: Sequence[Example], names: Mapping[str, str], vocab_size: int) -> Chance:
        """The headline metric of a model that learned nothing, on these eval examples (``names``: each label
        of the data -> its name on the card; ``vocab_size``: the tokenizer's)."""
        ...
