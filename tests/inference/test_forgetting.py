"""Forgetting cannot happen: the base and every adapter give bit-identical outputs whatever else is loaded,
used, unloaded or trained; and an adapter serves exactly what its training measured."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from adapterhub import train
from adapterhub.inference import Hub
from tests.inference.helpers import publish_adapter
from tests.training.conftest import write_classification, write_conll

TEXTS = ["a great film", "an awful, dull book", "paris city", "so-so"]


def test_base_outputs_are_bit_identical_through_load_use_unload_and_training(
    hub: Hub, registry, tiny_bert, tmp_path: Path
) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=1)
    before = hub.base_states(TEXTS, adapter="a")
    fingerprint = hub._hosts[(str(tiny_bert), "encoder", None)].fingerprint
    for i in range(5):
        publish_adapter(registry, tiny_bert, f"n{i}", task="ner" if i % 2 else "sentiment", seed=10 + i)
        publish_adapter(registry, tiny_bert, f"p{i}", method="prefix", seed=20 + i)
    hub.predict(TEXTS * 5, adapter=[f"{k}{i}" for i in range(5) for k in ("n", "p") for _ in range(2)])
    for i in range(5):
        hub.unload(f"n{i}")
    train(
        task="sentiment",
        name="trained",
        base=str(tiny_bert),
        data=str(write_classification(tmp_path / "t.csv")),
        epochs=1,
        registry=registry,
    )
    hub.predict(TEXTS, adapter="trained")
    after = hub.base_states(TEXTS, adapter="a")
    assert torch.equal(before, after)
    from adapterhub.base import fingerprint as take

    assert take(hub._hosts[(str(tiny_bert), "encoder", None)].root) == fingerprint


def test_an_adapter_is_bit_identical_before_and_after_another_is_trained_loaded_or_swapped(
    hub: Hub, registry, tiny_bert, tmp_path: Path
) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=1)
    publish_adapter(registry, tiny_bert, "b", seed=2, r=8)
    before = hub.predict(TEXTS, adapter="a")
    hub.predict(TEXTS, adapter="b")  # B loaded and used
    hub.predict(TEXTS, adapter=["b", "a", "b", "a"])  # swapped within a batch
    train(
        task="ner",
        name="b2",
        base=str(tiny_bert),
        data=str(write_conll(tmp_path / "n.conll")),
        epochs=1,
        registry=registry,
    )  # B trained
    hub.predict(TEXTS, adapter="b2")
    hub.unload("b")
    assert hub.predict(TEXTS, adapter="a") == before  # scores compared exactly, float for float


def test_the_hub_serves_what_training_measured(registry, tiny_bert, tmp_path: Path) -> None:
    train_file = write_classification(tmp_path / "train.csv", n=200, seed=1)
    eval_file = write_classification(tmp_path / "eval.csv", n=40, seed=2)
    result = train(
        task="sentiment",
        base=str(tiny_bert),
        data=str(train_file),
        eval_data=str(eval_file),
        epochs=6,
        batch_size=16,
        lr=1e-2,
        registry=registry,
    )
    with open(eval_file) as fh:
        rows = list(csv.DictReader(fh))
    predictions = Hub(registry, device="cpu").predict([r["text"] for r in rows], adapter="sentiment")
    accuracy = sum(p.label == r["label"] for p, r in zip(predictions, rows, strict=True)) / len(rows)
    assert accuracy == result.record.card.metrics["accuracy"]
    assert accuracy >= 0.9
