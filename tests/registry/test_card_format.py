"""Card format 2 (training curve, evaluation history, lineage): older cards migrate on read; evaluations append."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from adapterhub.registry import Registry
from adapterhub.registry.card import CARD_FILE, FORMAT, Card
from tests.registry.helpers import CARD, fake_adapter


def _downgrade_to_format_1(path: Path) -> None:
    card = json.loads(path.read_text())
    for key in ("history", "evaluations", "lineage"):
        card.pop(key, None)
    card["format"] = 1
    path.write_text(json.dumps(card))


def test_format_1_cards_are_migrated_when_read(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    _downgrade_to_format_1(record.path / CARD_FILE)
    with sqlite3.connect(registry.root / ".index.sqlite") as db:  # the index an older adapterhub wrote
        db.execute("UPDATE versions SET card = ?", ((record.path / CARD_FILE).read_text(),))

    card = registry.get("sentiment").card
    assert card.format == FORMAT == 2
    assert (card.history, card.evaluations, card.lineage) == ((), (), ())
    assert registry.list()[0].card.format == 2
    assert registry.verify() == []


def test_a_card_of_a_newer_format_is_refused_with_the_fix(tmp_path: Path) -> None:
    text = json.dumps({**CARD.to_dict(), "format": FORMAT + 1})
    with pytest.raises(Exception, match=r"newer than this adapterhub reads.*upgrade adapterhub"):
        Card.from_json(text)


def test_recorded_evaluations_append_without_touching_the_files(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    before = record.card.content_hash

    registry.record_evaluation("sentiment@1", {"data": "a.csv", "metrics": {"accuracy": 0.5}})
    updated = registry.record_evaluation("sentiment", {"data": "b.csv", "metrics": {"accuracy": 0.75}})

    assert [e["data"] for e in updated.card.evaluations] == ["a.csv", "b.csv"]
    assert updated.card.content_hash == before
    assert registry.list()[0].card.evaluations == updated.card.evaluations  # the index follows
    assert registry.verify() == []


def test_concurrent_evaluations_are_all_kept(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)

    def add(i: int) -> None:
        Registry(tmp_path / "reg").record_evaluation("sentiment@1", {"run": i})

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e["run"] for e in registry.get("sentiment@1").card.evaluations) == list(range(8))
