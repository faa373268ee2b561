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


def order_labels(found: Sequence[str], given: Sequence[str], source: str) -> tuple[str, ...]:
    """The data's labels in the class-index order of ``given`` (``--labels``): class ``i`` is named ``given[i]``.

    Either ``given`` holds exactly the data's labels, in the order wanted, or the data's labels are the integers
    ``0..N-1`` for ``N`` names. Anything else is refused with the difference named.

    >>> order_labels(("0", "1", "2"), ("world", "sports", "business"), "news.csv")
    ('0', '1', '2')
    >>> order_labels(("bad", "good"), ("good", "bad"), "reviews.csv")
    ('good', 'bad')
    """
    if set(given) == set(found):
        return tuple(given)
    if found and all(_INTEGER.fullmatch(label) for label in found):
        indices = [str(i) for i in range(len(given))]
        if set(found) == set(indices):
            return tuple(indices)
        unnamed = sort_labels(set(found) - set(indices))
        empty = [f"{i} ({given[int(i)]!r})" for i in indices if i not in found]
        parts = ([f"label {', '.join(unnamed)} has no name"] if unnamed else []) + (
            [f"no example has label {', '.join(empty)}"] if empty else []
        )
        raise ConfigError(
            f"--labels names {len(given)} classes, 0..{len(given) - 1}, but {source} has labels {names(found)}: "
            f"{'; '.join(parts)}; give one name per label 0..N-1, in order"
        )
    absent = [label for label in found if label not in given]
    unused = [label for label in given if label not in found]
    parts = ([f"lacks {names(absent)}, which the data has"] if absent else []) + (
        [f"names {names(unused)}, which no example has"] if unused else []
    )
    raise ConfigError(
        f"--labels does not match the labels of {source}: it {' and '.join(parts)}; give the data's labels in the "
        "order wanted, or one name per label when the labels are the integers 0..N-1"
    )
