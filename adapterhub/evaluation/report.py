"""``Evaluation``: the metric table of one adapter (or ensemble) on one data set (each task computes its own
metrics: :mod:`adapterhub.tasks.metrics`)."""

from __future__ import annotations

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
