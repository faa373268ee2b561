"""Label-preserving text perturbations for small classification data sets (``hub train --augment``).

Three operations in the style of EDA (Wei & Zou, 2019), without a thesaurus: swap two words, delete words,
insert words. Inserted words come from the training data's own vocabulary, and only from its *neutral* part:
words seen at least ``MIN_COUNT`` times whose share in every class stays close to that class's share of all
words, so an insertion cannot carry another label's signal ("terrible" is never inserted into a positive
review). Deletion never drops a negation ("not", "n't", "never", ...). Each augmented copy applies one
operation, in turn, to about ``strength`` of its words.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from adapterhub.data import TextExample

OPERATIONS = ("swap", "delete", "insert")
MIN_COUNT = 8
NEUTRAL_RATIO = 1.25  # a word is neutral when no class uses it more than 1.25x (or under 1/1.25x) its share
NEGATIONS = frozenset({"not", "n't", "no", "never", "nothing", "nor", "neither", "without", "none", "cannot"})


@dataclass(frozen=True)
class Augmenter:
    """Makes ``copies`` perturbed copies of each example; ``vocabulary`` holds the words insertion may use."""

    vocabulary: tuple[str, ...]
    copies: int = 4
    strength: float = 0.1

    @classmethod
    def fit(cls, examples: Sequence[TextExample], copies: int = 4, strength: float = 0.1) -> Augmenter:
        return cls(neutral_words(examples), copies, strength)

    def augment(self, examples: Sequence[TextExample], seed: int) -> list[TextExample]:
        """The originals followed by their copies (duplicates of an original are dropped)."""
        rng = random.Random(seed)
        out = list(examples)
        for example in examples:
            seen = {example.text}
            for copy in range(self.copies):
                text = self.perturb(example.text, OPERATIONS[copy % len(OPERATIONS)], rng)
                if text not in seen:
                    seen.add(text)
                    out.append(TextExample(text, example.label))
        return out

    def perturb(self, text: str, operation: str, rng: random.Random) -> str:
        words = text.split()
        if len(words) < 2:
            return text
        changes = max(1, round(self.strength * len(words)))
        if operation == "swap":
            for _ in range(changes):
                i, j = rng.sample(range(len(words)), 2)
                words[i], words[j] = words[j], words[i]
        elif operation == "delete":
            kept = [w for w in words if w.lower() in NEGATIONS or rng.random() >= self.strength]  # keep negation
            words = kept or [rng.choice(words)]
        elif operation == "insert" and self.vocabulary:
            for _ in range(changes):
                words.insert(rng.randrange(len(words) + 1), rng.choice(self.vocabulary))
        return " ".join(words)


def neutral_words(examples: Sequence[TextExample]) -> tuple[str, ...]:
    """Words frequent enough to judge whose use is spread over the classes as the classes are (sorted)."""
    by_class: dict[str, Counter[str]] = {}
    for example in examples:
        by_class.setdefault(example.label, Counter()).update(example.text.lower().split())
    totals = {label: sum(c.values()) for label, c in by_class.items()}
    everything = sum(totals.values())
    overall: Counter[str] = Counter()
    for counts in by_class.values():
        overall.update(counts)
    neutral = []
    for word, count in overall.items():
        if count < MIN_COUNT:
            continue
        ratios = [(by_class[label][word] / count) / (totals[label] / everything) for label in by_class]
        if all(1 / NEUTRAL_RATIO <= r <= NEUTRAL_RATIO for r in ratios):
            neutral.append(word)
    return tuple(sorted(neutral))
