"""Words of raw text for token classification, and BIO tags read back into entity spans."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapterhub.tasks.results import Entity

# Words as tweet and news taggers see them: @handles and #tags whole, inner apostrophes, hyphens and dots
# kept (don't, e-mail, U.S), any other punctuation mark a word of its own.
_WORD = re.compile(r"[@#]?\w+(?:['’\-.]\w+)*|\S")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) for every word of ``text``; offsets index the original string."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def given_words(words: Sequence[str]) -> list[tuple[str, int, int]]:
    """(word, start, end) for words given already split; offsets index ``" ".join(words)``."""
    out, start = [], 0
    for word in words:
        out.append((word, start, start + len(word)))
        start += len(word) + 1
    return out


def entities(
    text: str, words: Sequence[tuple[str, int, int]], tags: Sequence[str], scores: Sequence[float]
) -> tuple[Entity, ...]:
    """Spans of B-X I-X … (an I-X without its B-X starts an entity, as conlleval reads it)."""
    out: list[Entity] = []
    start = kind = None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and label == kind
        if start is not None and not continues:
            out.append(_span(text, words, start, i, kind or "", scores))
            start = kind = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, label
    return tuple(out)


def _span(
    text: str, words: Sequence[tuple[str, int, int]], first: int, stop: int, kind: str, scores: Sequence[float]
) -> Entity:
    begin, end = words[first][1], words[stop - 1][2]
    score = sum(scores[first:stop]) / (stop - first)
    return Entity(text=text[begin:end], type=kind, start=begin, end=end, score=round(float(score), 6))
