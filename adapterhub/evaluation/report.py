"""``Evaluation``: the metric table of one adapter (or ensemble) on one data set, and how it is computed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evaluation:
    """Headline metrics plus the detail tables.

    ``per_class`` maps each label (or entity type for ``ner``) to precision, recall, f1 and support;
    ``confusion[i][j]`` counts examples of ``labels[i]`` predicted as ``labels[j]`` (classification only).
    """

    adapter: str  # exact reference, or mean(a@1,b@2) for an ensemble
    task: str
    data: str
    data_fingerprint: str
    examples: int
    metrics: dict[str, float]
    labels: tuple[str, ...] = ()
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: tuple[tuple[int, ...], ...] = ()
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = list(self.labels)
        out["confusion"] = [list(row) for row in self.confusion]
        return out


def classification_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: gold)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "metrics": {
            "accuracy": round(float(accuracy_score(gold, pred)), 6),
            "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 6),
        },
        "per_class": {
            label: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion": tuple(tuple(int(v) for v in row) for row in confusion_matrix(gold, pred, labels=labels)),
    }


def entity_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (conlleval rules, through seqeval), overall and per entity type."""
    from seqeval.metrics import classification_report as seqeval_report
    from seqeval.metrics import f1_score, precision_score, recall_score

    gold, pred = [list(g) for g in gold], [list(p) for p in pred]
    table = seqeval_report(gold, pred, output_dict=True, zero_division=0)
    return {
        "metrics": {
            "f1": round(float(f1_score(gold, pred, zero_division=0)), 6),
            "precision": round(float(precision_score(gold, pred, zero_division=0)), 6),
            "recall": round(float(recall_score(gold, pred, zero_division=0)), 6),
        },
        "per_class": {
            kind: {
                "precision": round(float(row["precision"]), 6),
                "recall": round(float(row["recall"]), 6),
                "f1": round(float(row["f1-score"]), 6),
                "support": int(row["support"]),
            }
            for kind, row in table.items()
            if not kind.endswith(" avg")
        },
    }
