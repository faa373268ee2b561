"""Sequence classification, shared by the ``sentiment`` and ``classify`` presets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.data import Example, TextExample
from adapterhub.data.labels import sort_labels
from adapterhub.errors import ConfigError
from adapterhub.tasks.metrics import classification_report
from adapterhub.tasks.padding import pad_inputs
from adapterhub.tasks.results import Classification
from adapterhub.tasks.task import Chance, Encoded, Family, InferenceInput, Scored

if TYPE_CHECKING:
    import torch

    from adapterhub.cards import AdapterRecord
    from adapterhub.tasks.results import Result
    from adapterhub.tasks.task import Scoring


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
    family: Family = "encoder"
    has_head: bool = True
    head_kind: str | None = "sequence"
    pipeline_tag: str = "text-classification"
    generic: bool = False  # `classify` is: a plain PEFT SEQ_CLS adapter is imported and run as one

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
        from adapterhub.models import build_task_model  # loads torch: on first use

        return build_task_model(base, len(labels), "sequence", dropout, quantize)

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        assert isinstance(example, TextExample)
        ids = tokenizer(example.text, truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "labels": labels.index(example.label), "length": len(ids)}

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
        import torch  # torch: loaded on first use

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
        from sklearn.metrics import accuracy_score, f1_score  # sklearn: loaded on first use

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

    def encode_input(
        self, text: str | tuple[str, ...], tokenizer: Any, record: AdapterRecord, limit: int, where: str
    ) -> InferenceInput:
        if isinstance(text, tuple):
            raise ConfigError(f"{record.ref} is a {record.card.task_type} adapter: only ner adapters take word lists")
        return InferenceInput(tokenizer(text, truncation=True, max_length=limit)["input_ids"], text=text)

    def read_outputs(
        self,
        record: AdapterRecord,
        inputs: Sequence[InferenceInput],
        states: torch.Tensor,
        mask: torch.Tensor,
        head: tuple[torch.Tensor, torch.Tensor] | None,
        base_pooling: str,
    ) -> list[Result]:
        """Pooled as the card says (None: as the base pools), then the head and a softmax over the labels."""
        import torch  # torch: loaded on first use

        from adapterhub.models import pool  # loads torch: on first use

        assert head is not None  # parsing refuses a classifier without its head
        weight, bias = head
        features = pool(states, mask, record.card.inference.pooling or base_pooling)  # (b, H)
        probs = torch.softmax((features.to(weight.dtype) @ weight.t() + bias).float(), -1)  # (b, C)
        labels = record.card.labels
        out: list[Result] = []
        for p in probs:
            best = int(p.argmax())
            scores = {label: float(v) for label, v in zip(labels, p.tolist(), strict=True)}
            out.append(Classification(adapter=record.ref, label=labels[best], score=float(p[best]), scores=scores))
        return out

    def score(self, run: Scoring) -> Scored:
        """Accuracy, macro F1, the per-class table and the confusion matrix of the predicted labels; an ensemble
        (``run.combine``) is scored on its averaged probabilities."""

        texts = [e for e in run.data.examples if isinstance(e, TextExample)]
        mapping = self.label_mapping(run.records[0], [e.label for e in texts], run.data.source)
        run.counter.start(len(texts) * len(run.records))
        results = run.hub.predict(
            [e.text for e in texts],
            run.target,
            combine=run.combine,
            batch_size=run.batch_size,
            progress=run.counter.add,
        )
        gold = [mapping[e.label] for e in texts]
        return classification_report(gold, [r.label for r in results], run.records[0].card.labels), results

    def label_mapping(self, record: AdapterRecord, gold: Sequence[str], source: str) -> dict[str, str]:
        """Data labels -> the adapter's label names: as they are, as the training data spelled them (the card's
        ``hyperparameters["data_labels"]``, written by ``hub train --labels``), or renamed as training renamed them
        (0/1 -> negative/positive for sentiment)."""
        names = set(record.card.labels)
        raw = sort_labels(gold)
        if set(raw) <= names:
            return {label: label for label in raw}
        spelled = list(record.card.hyperparameters.get("data_labels") or ())
        if len(spelled) == len(record.card.labels) and set(raw) <= set(spelled):
            return {label: record.card.labels[spelled.index(label)] for label in raw}
        try:
            renamed = self.label_names(raw)
        except ConfigError:
            renamed = raw
        if len(renamed) == len(raw) and set(renamed) <= names:
            return dict(zip(raw, renamed, strict=True))
        raise ConfigError(
            f"{source} has labels {', '.join(raw)}, which do not match the labels of {record.ref} "
            f"({', '.join(record.card.labels)}); score it on data of its own label set"
        )

    def save_merged(self, model: torch.nn.Module, record: AdapterRecord, out: Path) -> None:
        """The merged encoder (``AutoModel``), the head beside it and a README with the lines that apply it:
        transformers has no sequence-classification head on mean-pooled states."""
        from adapterhub.tasks.merged import write_sequence_classifier  # torch and transformers: on first use

        write_sequence_classifier(model, record, out)
