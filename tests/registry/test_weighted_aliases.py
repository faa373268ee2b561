"""Weighted aliases (canaries): the stored format, routing by weight and by key, refusals, removal, verify, index."""

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub import Registry
from adapterhub.errors import AdapterNotFound, ConfigError, IncompatibleAdapter, RegistryConflict
from adapterhub.registry import BaseInfo
from adapterhub.registry.aliases import AliasCache, Split
from adapterhub.registry.index import MIGRATIONS
from tests.registry.helpers import CARD, fake_adapter


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "registry")
    for i in range(3):
        registry.publish("sentiment", fake_adapter(tmp_path / f"a{i}", fill=i), CARD)
    return registry


def _aliases_file(reg: Registry) -> Path:
    return reg.root / "sentiment" / "aliases.json"


def test_a_plain_alias_is_stored_as_before_and_a_split_as_a_string_older_readers_refuse(reg: Registry) -> None:
    reg.tag("sentiment@1", "stable")
    reg.tag_weighted({"sentiment@1": 0.9, "sentiment@2": 0.1}, "prod")
    stored = json.loads(_aliases_file(reg).read_text())
    assert stored == {"prod": "weighted 1=0.9 2=0.1", "stable": 1}
    with pytest.raises(ValueError, match="invalid literal for int"):  # what a reader before splits does with it
        {str(k): int(v) for k, v in stored.items()}
    assert reg.aliases("sentiment") == {"prod": Split.of({1: 0.9, 2: 0.1}), "stable": 1}
    assert reg.alias("sentiment:prod").weights == ((1, 0.9), (2, 0.1))


def test_ending_the_canary_stores_a_plain_alias_again(reg: Registry) -> None:
    reg.tag_weighted([("sentiment@1", 0.5), ("sentiment@2", 0.5)], "prod")
    reg.tag("sentiment@2", "prod")
    assert json.loads(_aliases_file(reg).read_text()) == {"prod": 2}


def test_a_registry_written_before_splits_still_reads(reg: Registry) -> None:
    """aliases.json as it always was, and an index at the schema before the weight column."""
    _aliases_file(reg).write_text('{\n  "prod": 2\n}\n')
    (reg.root / ".index.sqlite").unlink()
    with sqlite3.connect(reg.root / ".index.sqlite") as db:
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        db.execute("INSERT INTO aliases (name, alias, version) VALUES ('sentiment', 'prod', 2)")
        db.executemany(
            "INSERT INTO versions (name, version, task, base_id, card) VALUES (?, ?, ?, ?, ?)",
            [("sentiment", v, "sentiment", "tiny", reg.get(f"sentiment@{v}").card.to_json()) for v in (1, 2, 3)],
        )
    assert [(r.ref, r.aliases, r.weights) for r in reg.list()] == [
        ("sentiment@3", (), ()),
        ("sentiment@2", ("prod",), ()),
        ("sentiment@1", (), ()),
    ]
    assert reg.get("sentiment:prod").version == 2 and reg.verify() == []


def test_a_canary_at_90_10_over_2000_callers_lands_within_3_points(reg: Registry) -> None:
    reg.tag_weighted({"sentiment@1": 0.9, "sentiment@2": 0.1}, "prod")
    versions = [reg.get("sentiment:prod", key=f"caller-{i}").version for i in range(2000)]
    assert abs(versions.count(2) / 2000 - 0.1) <= 0.03
    assert set(versions) == {1, 2}


def test_a_key_keeps_one_version_and_moving_weights_moves_only_callers_near_the_boundary(reg: Registry) -> None:
    reg.tag_weighted({"sentiment@1": 0.5, "sentiment@2": 0.5}, "prod")
    for key in ("alice", "bob", "carol"):
        assert len({reg.get("sentiment:prod", key=key).version for _ in range(100)}) == 1
    before = {k: reg.get("sentiment:prod", key=f"u{k}").version for k in range(500)}
    reg.tag_weighted({"sentiment@1": 0.4, "sentiment@2": 0.6}, "prod")
    after = {k: reg.get("sentiment:prod", key=f"u{k}").version for k in range(500)}
    moved = [k for k in before if before[k] != after[k]]
    assert all(before[k] == 1 and after[k] == 2 for k in moved)  # only from the shrinking version
    assert 0 < len(moved) < 100  # about a tenth of the callers, not a reshuffle


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ({"sentiment@1": 0.9, "sentiment@2": 0.2}, ConfigError, "sum to 1.1"),
        ({"sentiment@1": 0.0, "sentiment@2": 1.0}, ConfigError, "above 0 and at most 1"),
        ({"sentiment@1": 1.5, "sentiment@2": -0.5}, ConfigError, "above 0 and at most 1"),
        ([("sentiment@1", 0.5), ("sentiment@01", 0.5)], ConfigError, "version 1 appears twice"),
        ({"sentiment@1": 0.5, "sentiment@9": 0.5}, AdapterNotFound, "no version 9"),
        ({"sentiment@1": 0.5, "other@1": 0.5}, ConfigError, "versions of one name"),
        ({"sentiment@1": 0.5, "sentiment": 0.5}, ConfigError, "exact versions"),
    ],
)
def test_bad_splits_are_refused_and_change_nothing(reg: Registry, weights, error, match) -> None:
    reg.tag("sentiment@3", "prod")
    before = _aliases_file(reg).read_bytes()
    with pytest.raises(error, match=match):
        reg.tag_weighted(weights, "prod")
    assert _aliases_file(reg).read_bytes() == before and reg.get("sentiment:prod").version == 3


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"labels": ("neg", "pos")}, "labels"),
        ({"base": BaseInfo(id="tiny", fingerprint="sha256:" + "1" * 64)}, "base fingerprint"),
    ],
)
def test_versions_that_cannot_answer_the_same_requests_are_refused(reg: Registry, tmp_path: Path, change, what) -> None:
    reg.publish("sentiment", fake_adapter(tmp_path / "other", fill=9), replace(CARD, **change))
    with pytest.raises(
        IncompatibleAdapter, match=f"sentiment@4 and sentiment@1 cannot share an alias: different {what}"
    ):
        reg.tag_weighted({"sentiment@1": 0.5, "sentiment@4": 0.5}, "prod")
    assert reg.aliases("sentiment") == {}


def test_every_version_of_a_split_is_protected_and_the_split_names_no_one_version(reg: Registry) -> None:
    reg.tag_weighted({"sentiment@1": 0.9, "sentiment@2": 0.1}, "prod")
    for ref in ("sentiment@1", "sentiment@2"):
        with pytest.raises(RegistryConflict, match=rf"sentiment:prod -> {ref}"):
            reg.remove(ref)
    with pytest.raises(ConfigError, match=r"splits traffic between sentiment@1 \(0.9\) and sentiment@2 \(0.1\)"):
        reg.plan_removal("sentiment:prod")
    with pytest.raises(ConfigError, match="name one version"):
        reg.tag("sentiment:prod", "backup")
    reg.remove("sentiment@2", force=True)  # --force takes the alias with it
    assert reg.aliases("sentiment") == {} and [r.ref for r in reg.list()] == ["sentiment@3", "sentiment@1"]


def test_list_verify_and_reindex_know_splits(reg: Registry) -> None:
    reg.tag_weighted({"sentiment@1": 0.9, "sentiment@2": 0.1}, "prod")
    assert [(r.ref, r.weights) for r in reg.list()] == [
        ("sentiment@3", ()),
        ("sentiment@2", (("prod", 0.1),)),
        ("sentiment@1", (("prod", 0.9),)),
    ]
    assert reg.get("sentiment@2").to_dict()["alias_weights"] == {"prod": 0.1}
    assert reg.verify() == [] and reg.reindex() == 3 and reg.verify() == []
    with sqlite3.connect(reg.root / ".index.sqlite") as db:
        db.execute("DELETE FROM aliases WHERE version = 2")
    assert [p.problem for p in reg.verify()] == ["out of date; run `hub registry reindex`"]
    reg.reindex()
    assert reg.verify() == []
    _aliases_file(reg).write_text(json.dumps({"prod": "weighted 1=0.5 7=0.5"}))
    assert [p.problem for p in reg.verify()] == ["alias sentiment:prod points to sentiment@7, which does not exist"]


def test_an_unreadable_split_is_refused_as_corrupt(reg: Registry) -> None:
    _aliases_file(reg).write_text(json.dumps({"prod": "weighted 1=0.5 2=0.6"}))
    problems = reg.verify()
    assert len(problems) == 1 and "sum to 1.1" in problems[0].problem


def test_the_alias_cache_looks_at_the_file_at_most_once_an_interval(reg: Registry) -> None:
    now, reads = [0.0], []

    def read(name: str):
        reads.append(name)
        return reg.aliases(name)

    cache = AliasCache(read, lambda name: reg.root / name, interval=1.0, clock=lambda: now[0])
    reg.tag("sentiment@1", "prod")
    assert cache.get("sentiment") == {"prod": 1}
    reg.tag("sentiment@2", "prod")
    for _ in range(1000):
        assert cache.get("sentiment") == {"prod": 1}  # within the interval: no stat, no read
    now[0] = 1.0
    assert cache.get("sentiment") == {"prod": 2}
    now[0] = 5.0
    assert cache.get("sentiment") == {"prod": 2} and reads == ["sentiment", "sentiment"]  # unchanged: not read
