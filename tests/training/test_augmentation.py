"""``--augment``: perturbed copies keep their label and never carry another class's words; training backs off
to no augmentation when it does not help."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adapterhub import ConfigError, train
from adapterhub.augmentation import NEGATIONS, Augmenter, neutral_words
from adapterhub.data import TextExample
from adapterhub.tasks import get_task
from adapterhub.training import train as train_module
from adapterhub.training.loop import FitResult

POSITIVE = [TextExample(f"the film was great and {w} fun", "1") for w in ("truly", "really")] * 5
NEGATIVE = [TextExample(f"the film was not good and {w} dull", "0") for w in ("truly", "really")] * 5


def test_only_words_spread_like_the_classes_are_inserted() -> None:
    words = neutral_words(POSITIVE + NEGATIVE)
    assert {"the", "film", "was", "and", "truly", "really"} <= set(words)
    assert not {"great", "fun", "good", "dull", "not"} & set(words)


def test_copies_keep_their_label_and_negations_and_are_reproducible() -> None:
    examples = POSITIVE[:2] + NEGATIVE[:2]
    augmenter = Augmenter.fit(POSITIVE + NEGATIVE, copies=6, strength=0.3)
    out = augmenter.augment(examples, seed=1)
    assert out[: len(examples)] == examples
    assert len(examples) < len(out) <= len(examples) * 7
    assert len(set(out)) == len(out)  # no duplicate of an original or of another copy
    allowed = {w for e in examples for w in e.text.split()} | set(augmenter.vocabulary)
    for copy in out[len(examples) :]:
        source = next(e for e in examples if e.label == copy.label)
        assert copy.label == source.label
        assert set(copy.text.split()) <= allowed
        negations = [w for w in source.text.split() if w in NEGATIONS]
        assert all(w in copy.text.split() for w in negations)  # "not good" never becomes "good"
    assert augmenter.augment(examples, seed=1) == out
    assert augmenter.augment(examples, seed=2) != out
    assert augmenter.perturb("one", "swap", random.Random(0)) == "one"


@pytest.mark.parametrize(
    ("without", "with_", "kept"), [(0.8, 0.7, "none"), (0.8, 0.8, "augmented"), (0.7, 0.9, "augmented")]
)
def test_augmentation_is_kept_only_when_it_does_not_hurt(monkeypatch, without: float, with_: float, kept: str) -> None:
    runs = iter([("plain", without), ("augmented", with_)])

    def fake_fit(config, task, labels, train_set, eval_set, pad_id, report):
        name, score = next(runs)
        return name, FitResult(best_metrics={"accuracy": score}), "print"

    monkeypatch.setattr(train_module, "_fit_once", fake_fit)
    model, _, _, summary = train_module._fit_augmented(
        None, get_task("sentiment"), ("0", "1"), ([1], [1, 2]), [1], 0, lambda *a: None
    )
    assert model == ("augmented" if kept == "augmented" else "plain")
    assert (summary["without"], summary["with"]) == (without, with_)
    assert summary["kept"].startswith(kept)


def test_train_with_augment_records_both_runs(tiny_bert: Path, sentiment_csv: Path, ner_conll: Path) -> None:
    result = train(base=str(tiny_bert), data=str(sentiment_csv), epochs=2, batch_size=8, lr=1e-2, augment=True)
    summary = result.record.card.hyperparameters["augmentation"]
    assert set(summary) == {"train_examples", "without", "with", "kept"}
    kept = summary["kept"] == "augmented"
    assert kept == (summary["with"] >= summary["without"])
    assert result.record.card.metrics["accuracy"] == (summary["with"] if kept else summary["without"])
    assert result.record.card.data.train_examples == (summary["train_examples"] if kept else 57)
    with pytest.raises(ConfigError, match="--augment perturbs texts of sentiment and classify data; ner"):
        train(task="ner", base=str(tiny_bert), data=str(ner_conll), augment=True)
