"""What training data is read into: one dataclass an example for each kind, and the :class:`DataSplit` of a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adapterhub.errors import ConfigError

Kind = Literal["text", "tokens", "generation"]
KINDS = ("text", "tokens", "generation")
NOUN = {"text": "examples", "tokens": "sentences", "generation": "examples"}  # what messages count


@dataclass(frozen=True)
class TextExample:
    """One text with its class label (``sentiment``, ``classify``)."""

    text: str
    label: str


@dataclass(frozen=True)
class TokenExample:
    """One sentence as words with one BIO tag each (``ner``)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class GenerationExample:
    """One prompt and the response to learn (``generate``); plain text has ``prompt == ""``."""

    prompt: str
    response: str


Example = TextExample | TokenExample | GenerationExample


@dataclass(frozen=True)
class DataSplit:
    """Training and evaluation examples of one run, with what the card records about them.

    Attributes:
        train: Examples to train on, in file order.
        eval: Examples to evaluate on, in file order.
        labels: Label names in class-index order: sorted label values for kind ``text`` (numeric order when all
            are integers), sorted BIO tags with ``"O"`` first for ``tokens``, ``()`` for ``generation``.
        description: Where the data came from and how eval was chosen, for the card.
        fingerprint: ``"sha256:<hex>"`` over train and eval (order-sensitive).
    """

    train: tuple[Example, ...]
    eval: tuple[Example, ...]
    labels: tuple[str, ...]
    description: str
    fingerprint: str


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown data kind {kind!r}: use one of {', '.join(KINDS)}")
