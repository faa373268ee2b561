"""``hf:`` sources, with ``datasets`` missing, unreachable or faked."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from adapterhub.data import TextExample, TokenExample, load_data
from tests.data.helpers import fails


def test_hf_needs_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    fails(
        re.escape("--data hf:imdb needs the Hugging Face datasets library") + ".*pip install datasets",
        "text",
        "hf:imdb",
    )
    fails("names no data set", "text", "hf:")


def test_hf_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_dataset(name: str, config: str | None = None) -> Any:
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub\n(offline)")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    message = fails(
        re.escape("cannot load Hugging Face data set hf:nope:cfg (ConnectionError: Couldn't reach 'nope'"),
        "text",
        "hf:nope:cfg",
    )
    assert "online" in message


class FakeSplit(list):
    """Just enough of a ``datasets.Dataset``: rows as dicts, ``column_names`` and ``features``."""

    def __init__(self, rows: list[dict[str, Any]], features: dict[str, Any] | None = None) -> None:
        super().__init__(rows)
        self.column_names = list(rows[0])
        self.features = features or {}


def test_hf_splits_with_a_fake_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    class_label = types.SimpleNamespace(names=["neg", "pos"])
    loaded = {
        "train": FakeSplit([{"sentence": f"s{i}", "label": i % 2} for i in range(10)], {"label": class_label}),
        "validation": FakeSplit([{"sentence": "v", "label": 1}], {"label": class_label}),
        "test": FakeSplit([{"sentence": "t", "label": -1}], {"label": class_label}),
    }
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda name, config=None: loaded))
    split = load_data("text", "hf:glue:sst2")
    assert len(split.train) == 10 and split.eval == (TextExample("v", "1"),) and split.labels == ("0", "1")
    assert (
        split.description == "hf:glue:sst2 train split (10 examples); eval: hf:glue:sst2 validation split (1 examples)"
    )
    del loaded["validation"]  # an unlabelled test split (label -1) leaves a seeded split
    assert load_data("text", "hf:glue:sst2").description.endswith("eval: 10% seeded split (seed 13)")
    tags = types.SimpleNamespace(feature=types.SimpleNamespace(names=["O", "B-per", "I-per"]))
    loaded.clear()
    loaded["train"] = FakeSplit([{"tokens": ["Ann", "Lee", "ran"], "ner_tags": [1, 2, 0]}] * 2, {"ner_tags": tags})
    assert load_data("tokens", "hf:wnut").train[0] == TokenExample(("Ann", "Lee", "ran"), ("B-per", "I-per", "O"))
