"""Labels: normalised to one string each, sorted into class-index order, counted and checked against training."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from adapterhub.data.examples import Example, TextExample, TokenExample
from adapterhub.data.messages import names
from adapterhub.errors import ConfigError

_INTEGER = re.compile(r"[+-]?\d+")
_INTEGRAL_FLOAT = re.compile(r"[+-]?\d+\.0*")


def label_counts(examples: Iterable[Example]) -> dict[str, int]:
    """How many text examples each label has, in class-index order.

    >>> label_counts([TextExample("bad", "0"), TextExample("good", "1"), TextExample("fine", "1")])
    {'0': 1, '1': 2}
    """
    counts: Counter[str] = Counter()
    for ex in examples:
        if not isinstance(ex, TextExample):
            raise TypeError(f"label_counts counts TextExample labels, got {type(ex).__name__}")
        counts[ex.label] += 1
    return {label: counts[label] for label in sort_labels(counts)}


def labels_of(examples: Iterable[Example]) -> Iterator[str]:
    """The label of each text example, every tag of each token example."""
    for ex in examples:
        if isinstance(ex, TextExample):
            yield ex.label
        elif isinstance(ex, TokenExample):
            yield from ex.tags


def sort_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct labels sorted, numerically when all are integers."""
    unique = set(labels)
    if unique and all(_INTEGER.fullmatch(label) for label in unique):
        return tuple(sorted(unique, key=lambda label: (int(label), label)))
    return tuple(sorted(unique))


def normalise_label(label: str) -> str:
    label = label.strip()
    if _INTEGRAL_FLOAT.fullmatch(label):
        return str(int(label.split(".")[0]))
    return label


def check_eval_labels(known: Sequence[str], seen: Iterable[str], what: str, eval_source: Any) -> None:
    unseen = sort_labels(set(seen) - set(known))
    if unseen:
        raise ConfigError(
            f"{what} in {eval_source} that the training data never has: {names(unseen)}; add training examples "
            f"with them or drop them from the eval data (the model knows only {names(known)})"
        )
