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


def test_a_dry_run_plans_even_what_aliases_protect(reg: Registry) -> None:
    reg.tag("sentiment@2", "prod")
    plan = reg.remove("sentiment", dry_run=True)
    assert [r.ref for r in plan.versions] == ["sentiment@1", "sentiment@2", "sentiment@3"]
    assert plan.aliases == ("sentiment:prod",) and plan.blocked and not plan.executed
    assert plan.alias_targets() == [("sentiment:prod", "sentiment@2")]
    assert [r.ref for r in reg.remove("sentiment:prod", dry_run=True).versions] == ["sentiment@2"]
    assert len(reg.list()) == 3 and reg.aliases("sentiment") == {"prod": 2}


def test_removing_a_version_by_its_own_alias_says_exactly_what_it_does(reg: Registry) -> None:
    reg.tag("sentiment@2", "prod")
    with pytest.raises(RegistryConflict) as refused:
        reg.remove("sentiment:prod")
    assert str(refused.value) == (
        "refusing to remove a version an alias points to (sentiment:prod -> sentiment@2); `hub rm sentiment:prod` "
        "means the version sentiment:prod points to (sentiment@2), not only the alias; --force removes that alias "
        "too, or move it first with `hub tag NAME@VERSION ALIAS` (`--dry-run` shows the plan)"
    )
    assert len(reg.list()) == 3


def test_several_targets_are_all_planned_before_anything_is_removed(reg: Registry, tmp_path: Path) -> None:
    from adapterhub import AdapterNotFound

    reg.publish("topic", fake_adapter(tmp_path / "t"), CARD)
    with pytest.raises(AdapterNotFound, match="no adapter named 'nosuch'"):
        reg.remove(["sentiment@1", "topic", "nosuch"])
    with pytest.raises(AdapterNotFound, match="no version 9"):
        reg.remove(["sentiment@1", "sentiment@9"])
    assert len(reg.list()) == 4
    plan = reg.remove(["sentiment@3", "topic", "sentiment@1", "sentiment@3"])
    assert plan.executed and [r.ref for r in plan.versions] == ["sentiment@1", "sentiment@3", "topic@1"]
    assert [r.ref for r in reg.list()] == ["sentiment@2"] and reg.verify() == []


def test_a_plan_is_not_executed_once_the_registry_changed(reg: Registry, tmp_path: Path) -> None:
    plan = reg.plan_removal("sentiment")
    reg.publish("sentiment", fake_adapter(tmp_path / "late"), CARD)
    with pytest.raises(RegistryConflict, match="changed since the removal was planned"):
        reg.execute_removal(plan)
    assert len(reg.list()) == 4
