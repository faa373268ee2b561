"""A registry holds no symlinks and follows none: a link planted in it never makes it read, write or delete
anything outside its root. Every case uses a real symlink to a folder of sentinel files that must survive."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from adapterhub import Registry, RegistryCorrupt
from adapterhub.registry import Card
from adapterhub.registry.files import create_new, temporary_path
from tests.registry.helpers import CARD, fake_adapter


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    registry.publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    registry.publish("sentiment", fake_adapter(tmp_path / "b", fill=2), CARD)
    registry.publish("topic", fake_adapter(tmp_path / "c", fill=3), CARD)
    return registry


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the registry holding sentinels: files, a sub-folder, and files named like adapters and
    like journal markers."""
    folder = tmp_path / "elsewhere"
    (folder / "sub").mkdir(parents=True)
    for name in ("keep.txt", "sentiment", "topic", ".sentiment.123.tmp", "sub/deep.txt"):
        (folder / name).write_text(f"sentinel {name}")
    return folder


def _intact(folder: Path) -> None:
    for name in ("keep.txt", "sentiment", "topic", ".sentiment.123.tmp", "sub/deep.txt"):
        assert (folder / name).read_text() == f"sentinel {name}", name


def _replace_with_link(path: Path, target: Path) -> None:
    if path.is_dir():
        path.rename(path.with_name(path.name + ".moved"))
    elif path.exists():
        path.unlink()
    path.symlink_to(target)


@pytest.mark.parametrize("folder", [".trash", ".journal", ".staging"])
def test_a_symlinked_work_folder_is_refused_by_writers_and_readers(reg: Registry, elsewhere: Path, folder: str) -> None:
    _replace_with_link(reg.root / folder, elsewhere)
    for operation in (
        lambda: reg.tag("sentiment@1", "prod"),
        lambda: reg.remove("sentiment@1"),
        lambda: reg.list(),
        lambda: reg.get("sentiment"),
        lambda: reg.publish("sentiment", fake_adapter(elsewhere.parent / "d"), CARD),
    ):
        with pytest.raises(RegistryCorrupt, match=rf"{folder} is a symlink \(to .*elsewhere\); a registry holds no"):
            operation()
        _intact(elsewhere)
    problems = reg.verify()
    assert [(p.where, p.file) for p in problems] == [("registry", folder)]
    _intact(elsewhere)
    assert sorted(os.listdir(elsewhere)) == [".sentiment.123.tmp", "keep.txt", "sentiment", "sub", "topic"]


def test_a_work_folder_that_is_a_file_is_refused(reg: Registry) -> None:
    (reg.root / ".trash").write_text("mine")
    with pytest.raises(RegistryCorrupt, match=r"\.trash is not a directory"):
        reg.tag("sentiment@1", "prod")
    assert (reg.root / ".trash").read_text() == "mine"


def test_only_the_registrys_own_journal_markers_are_acted_on(reg: Registry, elsewhere: Path) -> None:
    journal = reg.root / ".journal"
    (journal / "Not-A-Name").write_text("x")  # not a valid adapter name
    (journal / "folder").mkdir()  # a directory, not a marker
    (journal / "topic").symlink_to(elsewhere / "topic")  # a marker name, but a link
    (journal / "keep").symlink_to(elsewhere)
    assert [r.ref for r in reg.list()] == ["sentiment@2", "sentiment@1", "topic@1"]  # reads work, touch nothing
    reg.tag("sentiment@1", "prod")  # so do writes, which replay the journal
    assert sorted(p.name for p in journal.iterdir()) == ["Not-A-Name", "folder", "keep", "topic"]
    _intact(elsewhere)
    assert sorted((p.where, p.file) for p in reg.verify()) == [
        ("journal", "Not-A-Name"),
        ("journal", "folder"),
        ("journal", "keep"),
        ("journal", "topic"),
    ]


def test_a_link_in_the_trash_is_removed_not_followed(reg: Registry, elsewhere: Path) -> None:
    (reg.root / ".trash").mkdir()
    (reg.root / ".trash" / "planted").symlink_to(elsewhere)
    (reg.root / ".trash" / "planted-file").symlink_to(elsewhere / "keep.txt")
    reg.remove("sentiment@1")
    assert list((reg.root / ".trash").iterdir()) == []
    _intact(elsewhere)


def _copy_of_version(reg: Registry, ref: str, destination: Path) -> Path:
    import shutil

    shutil.copytree(reg.get(ref).path, destination)
    return destination


def test_a_version_folder_linked_out_of_the_root_is_refused_and_reported(
    reg: Registry, elsewhere: Path, tmp_path: Path
) -> None:
    outside = _copy_of_version(reg, "sentiment@2", tmp_path / "outside-version")
    _replace_with_link(reg.root / "sentiment" / "2", outside)
    with pytest.raises(RegistryCorrupt, match=r"sentiment/2 is a symlink \(to .*outside-version\)"):
        reg.load("sentiment")
    with pytest.raises(RegistryCorrupt, match="is a symlink"):
        reg.remove("sentiment", force=True)
    assert [(p.where, p.problem.split(" (")[0]) for p in reg.verify() if p.where != "index"] == [
        ("sentiment@2", "the version folder is a symlink")
    ]
    assert (outside / "adapter_model.safetensors").is_file() and reg.load("sentiment@1").tensors
    _intact(elsewhere)


@pytest.mark.parametrize("filename", ["adapter_model.safetensors", "adapter_config.json", "card.json"])
def test_a_file_linked_out_of_the_root_is_refused_and_reported(reg: Registry, tmp_path: Path, filename: str) -> None:
    outside = _copy_of_version(reg, "topic@1", tmp_path / "outside")
    _replace_with_link(reg.root / "topic" / "1" / filename, outside / filename)
    with pytest.raises(RegistryCorrupt, match=rf"topic/1/{filename} is a symlink"):
        reg.load("topic")
    assert [(p.where, p.file) for p in reg.verify() if p.where != "index"] == [("topic@1", filename)]
    assert (outside / filename).is_file()


def test_a_name_folder_or_aliases_file_linked_out_of_the_root_is_refused(reg: Registry, tmp_path: Path) -> None:
    reg.tag("topic@1", "prod")
    aliases = reg.root / "topic" / "aliases.json"
    (tmp_path / "aliases.json").write_text('{"prod": 1}')
    _replace_with_link(aliases, tmp_path / "aliases.json")
    with pytest.raises(RegistryCorrupt, match=r"aliases\.json is a symlink"):
        reg.get("topic:prod")
    with pytest.raises(RegistryCorrupt, match=r"aliases\.json is a symlink"):
        reg.tag("topic@1", "stable")
    assert (tmp_path / "aliases.json").read_text() == '{"prod": 1}'
    assert ("topic", "aliases.json") in [(p.where, p.file) for p in reg.verify()]

    import shutil

    shutil.copytree(reg.root / "sentiment", tmp_path / "outside-name")
    shutil.rmtree(reg.root / "sentiment")
    (reg.root / "sentiment").symlink_to(tmp_path / "outside-name")
    with pytest.raises(RegistryCorrupt, match=r"registry/sentiment is a symlink"):
        reg.get("sentiment@1")
    with pytest.raises(RegistryCorrupt, match=r"registry/sentiment is a symlink"):
        reg.publish("sentiment", fake_adapter(tmp_path / "new"), CARD)
    assert ("sentiment", "") in [(p.where, p.file) for p in reg.verify()]
    assert sorted(os.listdir(tmp_path / "outside-name")) == [".last_version", "1", "2"]


def test_a_linked_index_or_lock_is_refused_not_written_through(reg: Registry, tmp_path: Path) -> None:
    outside = tmp_path / "outside.sqlite"
    outside.write_bytes(b"not mine to write")
    _replace_with_link(reg.root / ".index.sqlite", outside)
    with pytest.raises(RegistryCorrupt, match=r"\.index\.sqlite is a symlink"):
        reg.list()
    assert outside.read_bytes() == b"not mine to write"
    (reg.root / ".index.sqlite").unlink()
    _replace_with_link(reg.root / ".lock", tmp_path / "lock-target")
    with pytest.raises(RegistryCorrupt, match=r"\.lock is a symlink"):
        reg.tag("sentiment@1", "prod")
    assert not (tmp_path / "lock-target").exists()


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_a_link_at_a_temporary_name_is_not_written_through(reg: Registry, tmp_path: Path, link: str) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    planted = reg.root / "sentiment" / f".aliases.json.{os.getpid()}.tmp"  # the name writes took before: guessable
    planted.symlink_to(target) if link == "symlink" else os.link(target, planted)
    reg.tag("sentiment@1", "prod")
    assert target.read_text() == "precious" and reg.get("sentiment:prod").version == 1


def test_a_new_file_is_never_one_that_exists_or_a_link(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    for name in ("file", "link", "dangling"):
        with pytest.raises(FileExistsError):
            create_new(tmp_path / name)
    assert (tmp_path / "file").read_text() == "mine" and not (tmp_path / "nothing").exists()
    before = os.umask(0)
    try:
        os.close(create_new(tmp_path / "private", private=True))
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    names = {temporary_path(tmp_path / "aliases.json").name for _ in range(2)}
    assert len(names) == 2 and all(re.fullmatch(r"\.aliases\.json\.[0-9a-f]{16}\.tmp", n) for n in names)


def test_a_card_naming_another_version_is_still_refused(reg: Registry) -> None:
    path = reg.get("topic").path / "card.json"
    card = Card.from_json(path.read_text())
    path.write_text(card.to_json().replace('"version": 1', '"version": 7'))
    with pytest.raises(RegistryCorrupt, match="its card says topic@7"):
        reg.get("topic")


@pytest.mark.parametrize("folder", [".logs", ".tune"])
def test_a_symlinked_log_or_tuning_folder_is_reported_by_verify(reg: Registry, elsewhere: Path, folder: str) -> None:
    (reg.root / folder).symlink_to(elsewhere)
    problems = reg.verify()
    assert [(p.where, p.file) for p in problems] == [("registry", folder)]
    assert f"{folder} is a symlink" in problems[0].problem
    _intact(elsewhere)


def test_a_symlink_inside_the_log_folder_is_reported_by_verify(reg: Registry, tmp_path: Path) -> None:
    (reg.root / ".logs").mkdir()
    (reg.root / ".logs" / "predictions.sqlite").symlink_to(tmp_path / "outside.sqlite")
    assert [(p.where, p.file) for p in reg.verify()] == [("registry", ".logs/predictions.sqlite")]
