"""What each task's headline metric scores with nothing learned (below it, an adapter is of no use)."""

from __future__ import annotations

import pytest

from adapterhub.data import GenerationExample, TextExample, TokenExample
from adapterhub.tasks import get_task


def _texts(*labels: str) -> list[TextExample]:
    return [TextExample(f"text {i}", label) for i, label in enumerate(labels)]


def test_classification_chance_is_the_majority_share_of_the_eval_set() -> None:
    chance = get_task("classify").chance(_texts("0", "1", "1", "2", "1"), {"0": "a", "1": "b", "2": "c"}, 100)
    assert chance.value == pytest.approx(0.6)
    assert chance.how == "always predicting the majority class 'b', 3 of the 5 eval examples"
    balanced = get_task("sentiment").chance(_texts("0", "1", "0", "1"), {"0": "negative", "1": "positive"}, 100)
    assert (balanced.value, balanced.how) == (0.5, "1/2 for 2 balanced labels")


def test_entity_f1_chance_is_zero_and_perplexity_chance_is_the_vocabulary() -> None:
    ner = get_task("ner").chance([TokenExample(("anna",), ("B-person",))], {}, 100)
    assert (ner.value, ner.how) == (0.0, "tagging every word O finds no entity")
    generation = get_task("generate").chance([GenerationExample("", "the sea")], {}, 320)
    assert generation.value == 320.0 and "uniform guess over the 320 tokens" in generation.how
