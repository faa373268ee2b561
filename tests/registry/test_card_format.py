"""Card formats: 2 added the training curve, evaluation history and lineage, 3 the typed inference settings;
older cards migrate on read (files, index, listing, verify, reindex); evaluations append."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub.cards.card import CARD_FILE, DEFAULT_MAX_LENGTH, FORMAT, Card
from adapterhub.errors import ConfigError
from adapterhub.registry import InferenceSettings, Registry
from tests.registry.helpers import CARD, fake_adapter


def _downgrade_to_format_1(path: Path) -> None:
    _downgrade_to_format_2(path)
    card = json.loads(path.read_text())
    for key in ("history", "evaluations", "lineage"):
        card.pop(key, None)
    card["format"] = 1
    path.write_text(json.dumps(card))


def _downgrade_to_format_2(path: Path, **hyperparameters: object) -> None:
    """The card as adapterhub wrote it before format 3: inference settings (if any) among the hyperparameters."""
    card = json.loads(path.read_text())
    card.pop("inference", None)
    card["hyperparameters"] = {**card["hyperparameters"], **hyperparameters}
    card["format"] = 2
    path.write_text(json.dumps(card))


def _index_as_on_disk(registry: Registry, card_file: Path) -> None:
    """Put the card file's text into the index, as the older adapterhub that wrote the card indexed it."""
    with sqlite3.connect(registry.root / ".index.sqlite") as db:
        db.execute("UPDATE versions SET card = ?", (card_file.read_text(),))


def test_format_1_cards_are_migrated_when_read(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    _downgrade_to_format_1(record.path / CARD_FILE)
    _index_as_on_disk(registry, record.path / CARD_FILE)

    card = registry.get("sentiment").card
    assert card.format == FORMAT == 3
    assert (card.history, card.evaluations, card.lineage) == ((), (), ())
    assert card.inference == InferenceSettings()
    assert registry.list()[0].card.format == 3
    assert registry.verify() == []


def test_format_2_cards_take_their_inference_settings_from_the_hyperparameters(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    _downgrade_to_format_2(record.path / CARD_FILE, max_length=64, quantize="8bit", prompt_template="")
    _index_as_on_disk(registry, record.path / CARD_FILE)

    want = InferenceSettings(max_length=64, pooling=None, prompt_template="", quantize="8bit")
    assert registry.get("sentiment").card.inference == want
    assert [r.card.inference for r in registry.list()] == [want]  # read from the index as an older version wrote it
    assert registry.verify() == []
    registry.reindex()
    assert registry.list()[0].card.inference == want and registry.verify() == []
    assert registry.get("sentiment").card.hyperparameters["max_length"] == 64  # the run's record is kept


def test_a_format_2_card_that_recorded_no_settings_gets_the_one_default(tmp_path: Path) -> None:
    """What an imported adapter's card held: no max_length, no template; pooling as the base pools."""
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    _downgrade_to_format_2(record.path / CARD_FILE)
    settings = registry.get("sentiment").card.inference
    assert settings == InferenceSettings(max_length=DEFAULT_MAX_LENGTH, pooling=None, prompt_template=None)
    assert settings.max_length == 512 and settings.quantize is None


def test_inference_settings_round_trip_through_the_card_file(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    settings = InferenceSettings(max_length=96, pooling="cls", prompt_template="Q: {prompt}\nA:", quantize="4bit")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), replace(CARD, inference=settings))
    assert json.loads((record.path / CARD_FILE).read_text())["inference"] == {
        "max_length": 96,
        "pooling": "cls",
        "prompt_template": "Q: {prompt}\nA:",
        "quantize": "4bit",
    }
    assert registry.get("sentiment").card.inference == settings == registry.list()[0].card.inference


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_length": "64"}, "inference.max_length must be a positive integer, not '64'"),
        ({"max_length": 0}, "inference.max_length must be a positive integer, not 0"),
        ({"pooling": "max"}, "inference.pooling must be one of mean, cls, last or null, not 'max'"),
        ({"quantize": "3bit"}, "inference.quantize must be 4bit or 8bit or null, not '3bit'"),
        ({"prompt_template": 7}, "inference.prompt_template must be a string or null, not 7"),
        ({"prompt_template": "no place for it"}, "must hold {prompt} as its only field"),
        ({"prompt_template": "{prompt} {other}"}, "must hold {prompt} as its only field"),
    ],
)
def test_publishing_refuses_inference_settings_of_the_wrong_type(
    tmp_path: Path, settings: dict[str, object], message: str
) -> None:
    registry = Registry(tmp_path / "reg")
    card = replace(CARD, inference=InferenceSettings(**settings))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape(message)):
        registry.publish("sentiment", fake_adapter(tmp_path / "a"), card)
    assert not (tmp_path / "reg" / "sentiment").exists()


def test_verify_reports_a_stored_card_with_a_bad_setting(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    record = registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    card = json.loads((record.path / CARD_FILE).read_text())
    card["inference"]["pooling"] = "max"
    (record.path / CARD_FILE).write_text(json.dumps(card))
    registry.reindex()
    assert [p.problem for p in registry.verify()] == [
        "inference.pooling must be one of mean, cls, last or null, not 'max'"
    ]


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
