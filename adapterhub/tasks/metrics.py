"""The metric tables tasks score with: classification (scikit-learn) and entity spans (seqeval, conlleval rules).

Each returns ``{"metrics": headline numbers, "per_class": table[, "confusion": matrix]}``, the fields of an
:class:`~adapterhub.evaluation.report.Evaluation` that a task's ``score`` fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: gold)."""
    from sklearn.metrics import (  # sklearn: loaded on first use
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

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
    from seqeval.metrics import classification_report as seqeval_report  # seqeval: loaded on first use
    from seqeval.metrics import f1_score, precision_score, recall_score  # seqeval: loaded on first use

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
