"""Ensembles: several classifiers of one label set, their class probabilities averaged per input.

``hub.predict(texts, adapter=["sentiment@2", "sentiment@3", "sst-prefix"], combine="mean")`` runs every member
on every input in one mixed batch and returns one :class:`Classification` per input, named
``mean(sentiment@2,sentiment@3,sst-prefix@1)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from adapterhub.errors import ConfigError
from adapterhub.registry import AdapterRecord
from adapterhub.tasks.results import Classification, Result

COMBINERS = ("mean",)


def check_members(members: Sequence[str], records: Sequence[AdapterRecord], combine: str) -> tuple[str, ...]:
    """The common label order of an ensemble; refuses what cannot be averaged, naming the member at fault."""
    if combine not in COMBINERS:
        raise ConfigError(f"combine must be one of {', '.join(COMBINERS)} (got {combine!r})")
    if isinstance(members, str) or len(members) < 2:
        raise ConfigError("an ensemble needs a list of at least two adapters, e.g. adapter=['a@1', 'a@2']")
    refs = [r.ref for r in records]
    twice = [ref for ref, count in Counter(refs).items() if count > 1]
    if twice:
        given = {ref: Counter(m for m, r in zip(members, refs, strict=True) if r == ref) for ref in twice[:3]}
        named = "; ".join(
            f"{ref} (given as {', '.join(repr(m) + (f' x{n}' if n > 1 else '') for m, n in spellings.items())})"
            for ref, spellings in given.items()
        )
        more = f" and {len(twice) - 3} more" if len(twice) > 3 else ""
        raise ConfigError(f"an ensemble lists the same version twice: {named}{more}; name distinct versions")
    first = records[0]
    for record in records:
        if record.card.task_type != "SEQ_CLS":
            raise ConfigError(
                f"{record.ref} is a {record.card.task} adapter; ensembles average class probabilities, "
                "so every member must be a sentiment or classify adapter"
            )
        if set(record.card.labels) != set(first.card.labels):
            raise ConfigError(
                f"ensemble members disagree on labels: {first.ref} has {', '.join(first.card.labels)} but "
                f"{record.ref} has {', '.join(record.card.labels)}; combine adapters of one label set"
            )
    return tuple(first.card.labels)


def combine_mean(results: Sequence[Result], members: int, labels: Sequence[str]) -> list[Classification]:
    """``results`` holds every member's results for all inputs, member by member; one averaged result per input."""
    count = len(results) // members
    name = f"mean({','.join(results[m * count].adapter for m in range(members))})" if count else "mean()"
    out = []
    for i in range(count):
        rows = [results[m * count + i] for m in range(members)]
        assert all(isinstance(r, Classification) for r in rows)
        scores = {label: sum(r.scores[label] for r in rows) / members for label in labels}  # type: ignore[union-attr]
        best = max(labels, key=lambda label: scores[label])
        out.append(Classification(adapter=name, label=best, score=scores[best], scores=scores))
    return out
