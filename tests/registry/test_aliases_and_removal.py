from pathlib import Path

import pytest

from adapterhub import Registry, RegistryConflict
from tests.registry.helpers import CARD, fake_adapter


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    for i in range(3):
        registry.publish("sentiment", fake_adapter(tmp_path / f"a{i}", fill=i), CARD)
    return registry


def test_tag_points_and_moves_an_alias(reg: Registry) -> None:
    reg.tag("sentiment@1", "prod")
    assert reg.get("sentiment:prod").version == 1
    reg.tag("sentiment@2", "prod")
    assert reg.get("sentiment:prod").version == 2
    assert reg.get("sentiment@2").aliases == ("prod",)
    assert [r.aliases for r in reg.list()] == [(), ("prod",), ()]


def test_removal_is_planned_and_dry_run_touches_nothing(reg: Registry) -> None:
    plan = reg.remove("sentiment", dry_run=True)
    assert [r.ref for r in plan.versions] == ["sentiment@1", "sentiment@2", "sentiment@3"]
    assert plan.freed_bytes == sum(r.card.size_bytes for r in reg.list()) and not plan.executed
    assert len(reg.list()) == 3


def test_removal_refuses_what_an_alias_points_to_unless_forced(reg: Registry) -> None:
    reg.tag("sentiment@2", "prod")
    with pytest.raises(RegistryConflict, match=r"sentiment:prod -> sentiment@2.*--force"):
        reg.remove("sentiment@2")
    reg.remove("sentiment@1")  # not pinned
    plan = reg.remove("sentiment:prod", force=True)
    assert plan.executed and plan.aliases == ("sentiment:prod",)
    assert [r.ref for r in reg.list()] == ["sentiment@3"]
    assert reg.aliases("sentiment") == {}
    assert not (reg.root / "sentiment" / "2").exists()
    assert reg.verify() == []


def test_removing_every_version(reg: Registry) -> None:
    plan = reg.remove("sentiment")
    assert len(plan.versions) == 3 and reg.list() == [] and reg.names() == []
    assert not any((reg.root / ".trash").iterdir())
