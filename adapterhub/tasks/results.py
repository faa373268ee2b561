"""What ``Hub.predict`` returns: one typed result per input, in input order, naming the adapter that made it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Classification:
    """A sequence label: the best label, its probability and every label's probability."""

    adapter: str  # exact reference, e.g. "sentiment@3"
    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Entity:
    """One entity span: its text, type, character offsets in the input and mean word probability."""

    text: str
    type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Entities:
    """Token classification of one input: the entities found and the BIO tag of every word."""

    adapter: str
    entities: tuple[Entity, ...]
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "entities": [asdict(e) for e in self.entities],
            "words": list(self.words),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Generation:
    """Generated text (the continuation only, without the prompt) and how many tokens it has."""

    adapter: str
    text: str
    tokens: int
    finished: bool  # True when the model ended with its end-of-sequence token, False when max_new_tokens cut it
    prompt_tokens: int = 0  # tokens the prompt took after the adapter's template (and truncation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Result = Classification | Entities | Generation
