"""``ner``: token classification over BIO tags, scored by entity-level F1 (seqeval, conlleval rules).

Words are split into sub-word tokens; a word's tag sits on its first sub-token and the rest are ignored in
the loss and the metric, so predictions are read back one per word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.data import Example, TokenExample
from adapterhub.tasks.padding import pad, pad_inputs
from adapterhub.tasks.task import Chance, Encoded

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TokenClassification:
    name: str = "ner"
    kind: str = "tokens"
    task_type: str = "TOKEN_CLS"
    metric: str = "f1"
    greater_is_better: bool = True
    default_data: Path | None = None
    needs_base: bool = False

    def label_names(self, labels: Sequence[str]) -> tuple[str, ...]:
        return tuple(labels)

    def build_model(
        self, base: str | None, labels: Sequence[str], dropout: float, quantize: str | None = None
    ) -> torch.nn.Module:
        from adapterhub.models import build_task_model

        return build_task_model(base, len(labels), "token", dropout, quantize)

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        assert isinstance(example, TokenExample)
        enc = tokenizer(list(example.tokens), is_split_into_words=True, truncation=True, max_length=max_length)
        targets, previous = [], None
        for word in enc.word_ids():
            targets.append(-100 if word is None or word == previous else labels.index(example.tags[word]))
            previous = word
        if all(t == -100 for t in targets):
            return None
        return {"input_ids": enc["input_ids"], "labels": targets, "length": len(targets)}

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
        return {**pad_inputs(batch, pad_id), "labels": pad([b["labels"] for b in batch], -100)}

    def chance(self, evals: Sequence[Example], names: Mapping[str, str], vocab_size: int) -> Chance:
        """Entity F1 of tagging everything O (the most common tag by far): no entity found, F1 0."""
        return Chance(0.0, "tagging every word O finds no entity")

    def evaluate(
        self, model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], labels: Sequence[str]
    ) -> dict[str, float]:
        from seqeval.metrics import f1_score, precision_score, recall_score

        gold, pred, losses, words = [], [], 0.0, 0
        for batch in batches:
            out = model(**batch)
            keep = batch["labels"] != -100  # (B, T): first sub-token of each word
            n = int(keep.sum())
            losses += float(out.loss) * n
            words += n
            best = out.logits.argmax(-1)
            for row in range(len(keep)):
                gold.append([labels[i] for i in batch["labels"][row][keep[row]].tolist()])
                pred.append([labels[i] for i in best[row][keep[row]].tolist()])
        return {
            "f1": float(f1_score(gold, pred, zero_division=0)),
            "precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "loss": losses / max(words, 1),
        }


NER = TokenClassification()
