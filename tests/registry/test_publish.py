import json
from pathlib import Path

import pytest

from adapterhub import AdapterNotFound, ConfigError, InvalidName, Registry
from adapterhub.cards.card import Card
from adapterhub.export.peft import export_adapter
from tests.registry.helpers import CARD, fake_adapter


def test_publish_assigns_versions_and_fills_the_card(tmp_path: Path) -> None:
    reg = Registry()
    first = reg.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    second = reg.publish("sentiment", fake_adapter(tmp_path / "b", fill=2), CARD)
    assert (first.version, second.version) == (1, 2)
    card = reg.get("sentiment").card
    assert (card.name, card.version, card.trainable_params) == ("sentiment", 2, 66)
    assert set(card.files) == {"adapter_config.json", "adapter_model.safetensors"}
    assert card.size_bytes == sum(f.bytes for f in card.files.values())
    assert card.created and card.adapterhub_version
    assert reg.get("sentiment@1").card.files != card.files


def test_version_directory_is_exactly_peft_files_plus_card(tmp_path: Path) -> None:
    record = Registry().publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    assert sorted(p.name for p in record.path.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "card.json",
    ]
    on_disk = Card.from_json((record.path / "card.json").read_text())
    assert on_disk == record.card


def test_registry_location_comes_from_the_environment(registry_dir: Path, tmp_path: Path) -> None:
    Registry().publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    assert (registry_dir / "sentiment" / "1" / "card.json").is_file()


@pytest.mark.parametrize("name", ["../x", "a/b", "", "..", "/abs"])
def test_publish_refuses_bad_names(tmp_path: Path, name: str, registry_dir: Path) -> None:
    with pytest.raises(InvalidName):
        Registry().publish(name, fake_adapter(tmp_path / "a"), CARD)
    assert not (tmp_path / "x").exists() and not registry_dir.exists()


def test_publish_refuses_pickles_and_incomplete_directories(tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "a")
    (source / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ConfigError, match="pickle"):
        Registry().publish("sentiment", source, CARD)
    (source / "adapter_model.bin").unlink()
    (source / "adapter_model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"lacks adapter_model\.safetensors"):
        Registry().publish("sentiment", source, CARD)
    assert not Registry().exists()


def test_publish_refuses_a_weights_file_that_is_not_safetensors(tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "a")
    (source / "adapter_model.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(Exception, match="not a valid safetensors file"):
        Registry().publish("sentiment", source, CARD)
    assert not Registry().exists()


def test_unknown_names_versions_and_aliases_say_what_exists(tmp_path: Path) -> None:
    reg = Registry()
    reg.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    with pytest.raises(AdapterNotFound, match=r"no adapter named 'sentimnt'.*available: sentiment"):
        reg.get("sentimnt")
    with pytest.raises(AdapterNotFound, match=r"no version 7 \(versions: 1\)"):
        reg.get("sentiment@7")
    with pytest.raises(AdapterNotFound, match=r"no alias 'prod'.*hub tag sentiment@VERSION prod"):
        reg.get("sentiment:prod")


def test_versions_are_never_reused_after_removal(tmp_path: Path) -> None:
    reg = Registry()
    for i in range(3):
        reg.publish("sentiment", fake_adapter(tmp_path / f"a{i}", fill=i), CARD)
    reg.remove("sentiment@3")
    assert reg.publish("sentiment", fake_adapter(tmp_path / "b"), CARD).version == 4


def test_list_filters_and_orders(tmp_path: Path) -> None:
    reg = Registry()
    source = fake_adapter(tmp_path / "a")
    reg.publish("sentiment", source, CARD)
    reg.publish("sentiment", source, CARD)
    reg.publish("topic", source, Card.from_dict({**CARD.to_dict(), "task": "classify"}))
    assert [r.ref for r in reg.list()] == ["sentiment@2", "sentiment@1", "topic@1"]
    assert [r.ref for r in reg.list(task="classify")] == ["topic@1"]
    assert [r.ref for r in reg.list(base="other")] == []
    assert json.loads(json.dumps([r.to_dict() for r in reg.list()]))[0]["ref"] == "sentiment@2"


def test_a_missing_registry_is_not_found_and_reading_creates_nothing(tmp_path: Path) -> None:
    from adapterhub import RegistryNotFound

    reg = Registry(tmp_path / "nowhere")
    for read in (reg.list, reg.names, reg.verify, reg.reindex, lambda: reg.get("x"), lambda: reg.plan_removal("x")):
        with pytest.raises(RegistryNotFound, match=r"no registry at .*nowhere .*`hub train` or `hub import` creates"):
            read()
    with pytest.raises(RegistryNotFound):
        reg.tag("x@1", "prod")
    with pytest.raises(AdapterNotFound):  # callers that catch "not found" keep working
        export_adapter(reg, "x", tmp_path / "out")
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "out").exists()
    assert reg.publish("x", fake_adapter(tmp_path / "a"), CARD).ref == "x@1"  # publishing creates it
    assert [r.ref for r in reg.list()] == ["x@1"]


def test_a_full_disk_during_publish_leaves_the_registry_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from adapterhub import AdapterHubError
    from adapterhub.registry import registry as registry_module

    reg = Registry()
    reg.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    before = reg.list()
    real_fsync = os.fsync
    calls = [0]

    def fsync_until_full(fd: int) -> None:
        calls[0] += 1
        if calls[0] == 2:  # the second file copied into staging
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(registry_module.os, "fsync", fsync_until_full)
    with pytest.raises(AdapterHubError, match="no space left on device while publishing sentiment; the registry is"):
        reg.publish("sentiment", fake_adapter(tmp_path / "b", fill=3), CARD)
    monkeypatch.setattr(registry_module.os, "fsync", real_fsync)
    assert reg.list() == before and reg.verify() == []
    assert not any((reg.root / ".staging").iterdir())
    assert reg.publish("sentiment", fake_adapter(tmp_path / "c"), CARD).version == 2


def test_a_name_at_its_last_version_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    """A version pulled at the bound (999,999,999) leaves no version a reference could name: the next publish is
    refused in one line instead of writing one that never lists."""
    from adapterhub import RegistryConflict
    from adapterhub.names import MAX_VERSION

    reg = Registry()
    reg.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    (reg.root / "sentiment" / ".last_version").write_text(f"{MAX_VERSION}\n")
    with pytest.raises(RegistryConflict, match=r"sentiment has reached its last version, sentiment@999999999"):
        reg.publish("sentiment", fake_adapter(tmp_path / "b", fill=2), CARD)
    assert [r.ref for r in reg.list()] == ["sentiment@1"]
    assert reg.verify() == []
