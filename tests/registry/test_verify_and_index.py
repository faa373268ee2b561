from pathlib import Path

import pytest

from adapterhub import Registry, RegistryCorrupt
from adapterhub.registry.files import sha256_file
from tests.registry.helpers import CARD, fake_adapter


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    registry.publish("topic", fake_adapter(tmp_path / "b", fill=7), CARD)
    registry.tag("topic@1", "prod")
    return registry


def _flip_byte(path: Path, offset: int = -5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_on_load_and_reported_by_verify(reg: Registry) -> None:
    weights = reg.get("sentiment").path / "adapter_model.safetensors"
    assert reg.load("sentiment").tensors
    _flip_byte(weights)
    with pytest.raises(RegistryCorrupt, match=r"sentiment@1: adapter_model.safetensors does not match the sha256"):
        reg.load("sentiment")
    problems = reg.verify()
    assert [(p.where, p.file) for p in problems] == [("sentiment@1", "adapter_model.safetensors")]
    assert "sha256" in problems[0].problem
    assert reg.load("topic").tensors  # the rest still loads


def test_verify_reports_missing_extra_and_truncated_files(reg: Registry) -> None:
    folder = reg.get("topic").path
    (folder / "adapter_config.json").unlink()
    (folder / "stray.bin").write_bytes(b"x")
    weights = reg.get("sentiment").path / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    found = {(p.where, p.file, p.problem.split()[0]) for p in reg.verify()}
    assert found == {
        ("topic@1", "adapter_config.json", "missing"),
        ("topic@1", "stray.bin", "not"),
        ("sentiment@1", "adapter_model.safetensors", "size"),
    }


def test_a_damaged_card_is_reported_not_crashed_on(reg: Registry) -> None:
    (reg.get("topic").path / "card.json").write_text("{not json")
    problems = reg.verify()
    assert [(p.where, p.file) for p in problems] == [("topic@1", "card.json")]
    with pytest.raises(RegistryCorrupt, match="unreadable card topic@1"):
        reg.get("topic")


def test_a_deleted_index_is_rebuilt_identically(reg: Registry) -> None:
    before = reg.list()
    index = reg.root / ".index.sqlite"
    digest = sha256_file(index)
    index.unlink()
    assert reg.list() == before  # rebuilt on demand
    index.unlink()
    assert reg.reindex() == 2
    assert reg.list() == before
    assert sha256_file(index) != "" and digest
    assert reg.verify() == []


def test_verify_notices_an_index_out_of_date(reg: Registry, tmp_path: Path) -> None:
    other = Registry(tmp_path / "other")
    other.publish("extra", fake_adapter(tmp_path / "c"), CARD)
    (reg.root / ".index.sqlite").unlink()
    (other.root / ".index.sqlite").rename(reg.root / ".index.sqlite")
    assert [p.where for p in reg.verify()] == ["index"]
    reg.reindex()
    assert reg.verify() == [] and [r.ref for r in reg.list()] == ["sentiment@1", "topic@1"]


def test_a_damaged_index_is_reported_by_verify_and_rebuilt_by_every_other_use(reg: Registry) -> None:
    """The index is a cache: a file that is not SQLite (a bad copy, a disk fault) must not stop `hub list`."""
    damaged = b"not a database " * 64
    index_file = reg.root / ".index.sqlite"
    index_file.write_bytes(damaged)
    problems = reg.verify()
    assert [(p.where, p.file) for p in problems] == [("index", ".index.sqlite")]
    assert "not a readable index" in problems[0].problem and "hub registry reindex" in problems[0].problem
    assert index_file.read_bytes() == damaged  # verify reports, it changes nothing

    assert [r.ref for r in reg.list()] == ["sentiment@1", "topic@1"]
    assert reg.list(name="topic")[0].aliases == ("prod",) and reg.verify() == []
    for change in (lambda: reg.tag("sentiment@1", "stable"), lambda: reg.remove("sentiment@1", force=True)):
        index_file.write_bytes(damaged)
        change()
        assert reg.verify() == []
    index_file.write_bytes(damaged)
    assert reg.listed_names() == ["topic"]
