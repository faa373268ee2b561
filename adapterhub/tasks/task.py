"""What every task preset provides (a Protocol: presets share no implementation by inheritance).

A task owns everything that differs by task: training (the model, encoding, collation, metrics), inference (how
an input is encoded for the base and how the outputs become a result), evaluation (what ``hub eval`` runs) and
export (the layout of ``hub export --merged``). The engine that batches, routes and decodes calls these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch

    from adapterhub.cards import AdapterRecord
    from adapterhub.data import Example, Kind
    from adapterhub.reporting import ProgressCounter
    from adapterhub.tasks.results import Result

Encoded = dict[str, Any]  # input_ids: list[int], labels: int | list[int], length: int
Family = Literal["encoder", "causal"]
Scored = tuple[dict[str, Any], list[Any]]  # an Evaluation's metric fields, and the results they came from


@dataclass(frozen=True)
class EvalData:
    """The examples ``hub eval`` scores on: where they came from, read with the kind of the adapter's task."""

    source: str
    examples: tuple[Example, ...]
    fingerprint: str


class Predictor(Protocol):
    """What scoring predicts with: :class:`adapterhub.Hub`'s ``predict``."""

    def predict(self, inputs: Any, adapter: str | list[str], **options: Any) -> list[Result]: ...


class Scoring(Protocol):
    """One scoring run as :meth:`Task.score` sees it (:mod:`adapterhub.evaluation` makes it).

    Attributes:
        hub: What to predict with.
        target: What to pass ``hub.predict`` as the adapter: one reference, or the members of an ensemble.
        records: The adapter's record, or each member's.
        data: The examples.
        combine: How an ensemble is combined (``mean``), None for one adapter.
        batch_size: Inputs per forward pass.
        counter: Progress: the task starts it with its total, then adds as examples are scored.
    """

    hub: Predictor
    target: str | list[str]
    records: list[AdapterRecord]
    data: EvalData
    combine: str | None
    batch_size: int
    counter: ProgressCounter

    def perplexity(self) -> dict[str, float]:
        """Loss and perplexity of the (one) generate adapter on the data's responses, prompts in its template."""
        ...


@dataclass(frozen=True)
class InferenceInput:
    """One inference input as its task encoded it: the token ids, and what reading its output back needs.

    Attributes:
        ids: Token ids, already cut to the adapter's length.
        text: The input as given (a word list joined by spaces).
        words: Token tasks: each word with its character span in ``text``.
        word_starts: Token tasks: the position of each word's first sub-token, -1 for a word cut off.
    """

    ids: list[int]
    text: str = ""
    words: list[tuple[str, int, int]] | None = None
    word_starts: list[int] | None = None


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
    family: Family  # what inference runs: the bare body and the adapter's head, or the causal LM generating
    has_head: bool  # its adapters carry a classification head, one row per label on the card
    head_kind: str | None  # the head's shape: "sequence" (one row per input) or "token" (per token); None: no head
    pipeline_tag: str  # the Hugging Face Hub's pipeline tag for its adapters' model cards
    generic: bool  # the task an adapter of its task_type runs as when its card names no known task (imports)

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

    # ------------------------------------------------------------------------------------- inference, eval, export

    def encode_input(
        self, text: str | tuple[str, ...], tokenizer: Any, record: AdapterRecord, limit: int, where: str
    ) -> InferenceInput:
        """One inference input (a text, or a word list) for the adapter of ``record``, cut at ``limit`` tokens;
        ``where`` names the input in errors (``inputs[3]``)."""
        ...

    def read_outputs(
        self,
        record: AdapterRecord,
        inputs: Sequence[InferenceInput],
        states: torch.Tensor,
        mask: torch.Tensor,
        head: tuple[torch.Tensor, torch.Tensor] | None,
        base_pooling: str,
    ) -> list[Result]:
        """Encoder family: one result per input from the body's last hidden states ``states`` (b, T, H), the
        attention ``mask`` (b, T) and the adapter's ``head`` (weight (C, H), bias (C,)); ``base_pooling`` is how
        the base pools (for a card whose pooling is None)."""
        ...

    def score(self, run: Scoring) -> Scored:
        """``hub eval``: the metrics of ``run``'s adapter (or ensemble) on its examples, and its results."""
        ...

    def save_merged(self, model: torch.nn.Module, record: AdapterRecord, out: Path) -> None:
        """``hub export --merged``: write ``model`` (the task model, the adapter merged in) into the directory
        ``out`` as plain transformers loads it (the tokenizer is written beside it)."""
        ...
