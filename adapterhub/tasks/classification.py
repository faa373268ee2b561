"""Sequence classification, shared by the ``sentiment`` and ``classify`` presets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.data import Example, TextExample
from adapterhub.errors import ConfigError
from adapterhub.tasks.padding import pad_inputs
from adapterhub.tasks.task import Chance, Encoded

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SequenceClassification:
    name: str
    default_data: Path | None = None
    rename: Callable[[tuple[str, ...]], tuple[str, ...]] = field(default=lambda labels: labels)
    binary: bool = False
    kind: str = "text"
    task_type: str = "SEQ_CLS"
    metric: str = "accuracy"
    greater_is_better: bool = True
    needs_base: bool = False

    def label_names(self, labels: Sequence[str]) -> tuple[str, ...]:
        if self.binary and len(labels) != 2:
            raise ConfigError(
                f"{self.name} is binary but the data has {len(labels)} labels ({', '.join(labels[:8])}); "
                "use --task classify for more"
            )
        return self.rename(tuple(labels))

    def build_model(
        self, base: str | None, labels: Sequence[str], dropout: float, quantize: str | None = None
    ) -> torch.nn.Module:
        from adapterhub.models import build_task_model

        return build_task_model(base, len(labels), "sequence", dropout, quantize)

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        assert isinstance(example, TextExample)
        ids = tokenizer(example.text, truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "labels": labels.index(example.label), "length": len(ids)}

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
        import torch

        return {**pad_inputs(batch, pad_id), "labels": torch.tensor([b["labels"] for b in batch])}

    def chance(self, evals: Sequence[Example], names: Mapping[str, str], vocab_size: int) -> Chance:
        """Accuracy of always predicting the eval set's most common class (1/K when K classes are balanced)."""
        counts = Counter(e.label for e in evals if isinstance(e, TextExample))
        total = sum(counts.values())
        label, top = counts.most_common(1)[0]
        if len(set(counts.values())) == 1 and len(counts) == len(names):
            return Chance(top / total, f"1/{len(counts)} for {len(counts)} balanced labels")
        name = names.get(label, label)
        return Chance(top / total, f"always predicting the majority class {name!r}, {top} of the {total} eval examples")

    def evaluate(
        self, model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], labels: Sequence[str]
    ) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, f1_score

        gold, pred, losses = [], [], []
        for batch in batches:
            out = model(**batch)
            losses.append(float(out.loss) * len(batch["labels"]))
            gold += batch["labels"].tolist()
            pred += out.logits.argmax(-1).tolist()
        return {
            "accuracy": float(accuracy_score(gold, pred)),
            "macro_f1": float(f1_score(gold, pred, average="macro", labels=list(range(len(labels))), zero_division=0)),
            "loss": sum(losses) / max(len(gold), 1),
        }
