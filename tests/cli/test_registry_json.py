"""The documented JSON of `hub show`, `tag`, `registry verify` (and `list`), list's NAME, -q and --sort, and the
"did you mean" of unknown names and aliases."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub import Registry
from tests.registry.helpers import CARD, fake_adapter

RECORD_KEYS = {
    "schema",
    "ref",
    "path",
    "aliases",
    "alias_weights",
    "name",
    "version",
    "task",
    "task_type",
    "method",
    "method_config",
    "base",
    "labels",
    "hyperparameters",
    "inference",
    "metrics",
    "headline_metric",
    "data",
    "tags",
    "history",
    "evaluations",
    "lineage",
    "trainable_params",
    "files",
    "size_bytes",
    "created",
    "adapterhub_version",
    "format",
}


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    cards = [
        ("trec", 2, 0.81, "2026-01-01T00:00:00+00:00"),
        ("trec", 64, 0.92, "2026-01-03T00:00:00+00:00"),
        ("sentiment", 16, 0.87, "2026-01-02T00:00:00+00:00"),
    ]
    for i, (name, size, accuracy, created) in enumerate(cards):
        card = replace(CARD, metrics={"accuracy": accuracy}, created=created)
        registry.publish(name, fake_adapter(tmp_path / f"a{i}", size=size), card)
    return registry


def test_show_json_is_the_documented_record(hub, reg: Registry) -> None:
    code, out, _ = hub("show", "trec@1", "--json")
    record = json.loads(out)
    assert code == 0 and set(record) == RECORD_KEYS and record["schema"] == 1
    assert (record["ref"], record["name"], record["version"], record["aliases"]) == ("trec@1", "trec", 1, [])
    assert record["path"] == str(reg.root / "trec" / "1")
    assert record["base"] == {"id": "tiny", "fingerprint": CARD.base.fingerprint}
    assert set(record["files"]["adapter_model.safetensors"]) == {"sha256", "bytes"}
    assert hub("show", "trec@1")[1] == out  # the default output is the same document
    assert json.loads(hub("list", "--json")[1])[0] == json.loads(hub("show", "sentiment", "--json")[1])


def test_tag_json_names_the_alias_its_version_and_what_it_pointed_to(hub, reg: Registry) -> None:
    code, out, _ = hub("tag", "trec@1", "prod", "--json")
    document = json.loads(out)
    assert code == 0 and (document["schema"], document["alias"], document["ref"]) == (1, "trec:prod", "trec@1")
    assert document["previous"] is None and document["record"]["aliases"] == ["prod"]
    document = json.loads(hub("tag", "trec@2", "prod", "--json")[1])
    assert (document["ref"], document["previous"]) == ("trec@2", "trec@1")
    assert hub("tag", "trec@1", "prod")[1] == "trec:prod -> trec@1 (was trec@2)\n"


def test_verify_json_lists_problems_and_still_fails(hub, reg: Registry) -> None:
    code, out, _ = hub("registry", "verify", "--json")
    assert code == 0 and json.loads(out) == {"schema": 1, "registry": str(reg.root), "ok": True, "problems": []}
    (reg.get("trec@1").path / "stray.txt").write_text("x")
    code, out, _ = hub("registry", "verify", "--json")
    assert code == 1 and json.loads(out) == {
        "schema": 1,
        "registry": str(reg.root),
        "ok": False,
        "problems": [{"where": "trec@1", "file": "stray.txt", "problem": "not listed in the card"}],
    }


def test_list_takes_a_name_quiet_and_sort(hub, reg: Registry) -> None:
    assert hub("list", "-q")[1].split() == ["sentiment@1", "trec@2", "trec@1"]
    assert hub("list", "trec", "-q")[1].split() == ["trec@2", "trec@1"]
    assert hub("list", "--name", "trec", "--quiet")[1] == hub("list", "trec", "-q")[1]
    assert hub("list", "-q", "--sort", "created")[1].split() == ["trec@2", "sentiment@1", "trec@1"]
    assert hub("list", "-q", "--sort", "size")[1].split() == ["trec@2", "sentiment@1", "trec@1"]
    assert hub("list", "-q", "--sort", "metric")[1].split() == ["trec@2", "sentiment@1", "trec@1"]
    assert hub("list", "-q", "--sort", "name")[1] == hub("list", "-q")[1]
    code, _, err = hub("list", "--sort", "bogus")
    assert code == 2 and "unknown sort 'bogus'; choose one of: name, created, size, metric" in err
    code, _, err = hub("list", "trec", "--name", "sentiment")
    assert code == 2 and "disagree" in err
    code, _, err = hub("list", "trek")
    assert code == 3 and "no adapter named 'trek'" in err and "did you mean trec?" in err


def test_unknown_names_and_aliases_suggest_the_closest(hub, reg: Registry) -> None:
    code, _, err = hub("show", "sentimnt")
    assert code == 3 and ": did you mean sentiment? (available: sentiment, trec; see `hub list`)" in err
    code, _, err = hub("show", "zzz")
    assert code == 3 and "did you mean" not in err and "(available: sentiment, trec" in err
    reg.tag("trec@2", "prod")
    code, _, err = hub("show", "trec:prd")
    assert code == 3 and "trec has no alias 'prd' (did you mean trec:prod? aliases: prod)" in err


def test_suggestions_come_from_the_index_without_reading_cards(reg: Registry, monkeypatch) -> None:
    from adapterhub import AdapterNotFound
    from adapterhub.registry.store import Store

    def no_card_reads(*args, **kwargs):
        raise AssertionError("a card was read")

    monkeypatch.setattr(Store, "card", no_card_reads)
    monkeypatch.setattr(Store, "names", no_card_reads)  # no scan of every folder either
    with pytest.raises(AdapterNotFound, match="did you mean trec"):
        reg.get("trex")
