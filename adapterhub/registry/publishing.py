"""Adding versions: publishing a PEFT folder as the next version, and adopting one another registry wrote.

A version is assembled in a staging folder, fsynced, and made visible by one ``rename`` under the writer lock,
so a crash or a full disk at any point leaves either no version or a whole one. Version numbers are never
reused: ``NAME/.last_version`` records the highest ever assigned.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from adapterhub.cards.card import CARD_FILE, Card, FileInfo
from adapterhub.cards.records import AdapterRecord
from adapterhub.errors import IncompatibleAdapter, RegistryConflict, RegistryCorrupt
from adapterhub.names import MAX_VERSION, is_version, validate_name
from adapterhub.registry.files import CHUNK, atomic_write, count_parameters, disk_error, fsync_path
from adapterhub.registry.indexing import index_new
from adapterhub.registry.paths import refuse_link, remove_entry, work_folder
from adapterhub.registry.recovery import writing
from adapterhub.registry.store import Store
from adapterhub.registry.validation import (
    WEIGHTS_FILE,
    check_publishable,
    content_problems,
    source_files,
    stored_file_problems,
    version_file_problems,
)
from adapterhub.version import __version__

LAST_VERSION_FILE = ".last_version"


def publish(store: Store, name: str, source: Path, card: Card) -> AdapterRecord:
    """Copy the PEFT folder ``source`` in as the next version of ``name``, its card completed by the registry."""
    validate_name(name)
    files = source_files(source)
    check_publishable(name, source, card)
    refuse_link(store.root / name)  # before journaling a change to it
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        work_folder(store.staging, create=True)
    except OSError as exc:
        raise disk_error(exc, f"publishing {name}") from exc
    staging = store.staging / store.staging_name()
    staging.mkdir()
    try:
        infos = {f.name: _copy_hashed(f, staging / f.name) for f in files}
        card = replace(
            card,
            name=name,
            files=infos,
            size_bytes=sum(i.bytes for i in infos.values()),
            trainable_params=count_parameters(staging / WEIGHTS_FILE),
            created=card.created or datetime.now(UTC).isoformat(timespec="seconds"),
            adapterhub_version=__version__,
        )
        with writing(store, [name]):
            version = _next_version(store, name)
            card = replace(card, version=version)
            atomic_write(staging / CARD_FILE, card.to_json())
            fsync_path(staging)
            target = store.dir(name, version)
            os.rename(staging, target)
            fsync_path(target.parent)
            index_new(store, card)
        return AdapterRecord(name, version, target, card, ())
    except OSError as exc:
        raise disk_error(exc, f"publishing {name}") from exc
    finally:
        remove_entry(staging)


@contextmanager
def staging_folder(store: Store) -> Iterator[Path]:
    """A fresh, empty folder in the staging area (created with the registry if needed), removed at the end."""
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        work_folder(store.staging, create=True)
        folder = store.staging / store.staging_name()
        folder.mkdir()
    except OSError as exc:
        raise disk_error(exc, "creating a staging folder") from exc
    try:
        yield folder
    finally:
        remove_entry(folder)


def download_cache(store: Store, *, create: bool) -> Path:
    """The work folder where pulls keep verified downloads (created with the registry when ``create``)."""
    try:
        if create:
            store.root.mkdir(parents=True, exist_ok=True)
        work_folder(store.downloads, create=create)
    except OSError as exc:
        raise disk_error(exc, "creating the download cache") from exc
    return store.downloads


def adopt(store: Store, folder: Path) -> AdapterRecord:
    """Rename the complete version ``folder`` (its files and ``card.json``) in as the card's own name@version,
    after checking every file against the card and the card against the files."""
    card = Card.from_json((folder / CARD_FILE).read_bytes(), str(folder / CARD_FILE))
    name, version = validate_name(card.name), card.version
    where = f"{name}@{version}"
    problems = version_file_problems(card.method, card.files)
    if problems:
        raise RegistryCorrupt(f"refusing {where}: {'; '.join(problems)}; nothing was published")
    problems = stored_file_problems(where, folder, card)
    if problems:
        first = problems[0]
        raise RegistryCorrupt(f"refusing {where}: {first.file}: {first.problem}; nothing was published")
    mismatch = content_problems(folder, card, {})
    if mismatch:
        raise IncompatibleAdapter(f"refusing {where}: its card disagrees with its files: {'; '.join(mismatch)}")
    refuse_link(store.root / name)
    try:
        with writing(store, [name]):
            target = store.dir(name, version)
            if os.path.lexists(target):
                raise RegistryConflict(f"{where} exists in {store.root}; a version is never overwritten")
            _raise_counter(store, name, version)
            fsync_path(folder)
            os.rename(folder, target)
            fsync_path(target.parent)
            index_new(store, card)
    except OSError as exc:
        raise disk_error(exc, f"adopting {where}") from exc
    return store.record(name, version)


def _next_version(store: Store, name: str) -> int:
    """Assign ``name`` its next version number and record it in the counter (lock held)."""
    counter, last = _last_version(store, name)
    version = last + 1
    while os.path.lexists(store.dir(name, version)):  # a counter older than the directories: never reuse
        version += 1
    if version > MAX_VERSION:  # a version no reference could name again (one pulled at the bound, say)
        raise RegistryConflict(f"{name} has reached its last version, {name}@{MAX_VERSION}; publish under another name")
    atomic_write(counter, f"{version}\n")
    return version


def _raise_counter(store: Store, name: str, version: int) -> None:
    """Make sure the next version :func:`publish` assigns to ``name`` is above ``version``. Lock held."""
    counter, last = _last_version(store, name)
    if version > last:
        atomic_write(counter, f"{version}\n")


def _last_version(store: Store, name: str) -> tuple[Path, int]:
    """The counter file of ``name`` (its folder created) and the highest version it records (without a readable
    counter: the highest version folder)."""
    folder = store.root / name
    refuse_link(folder)
    folder.mkdir(exist_ok=True)
    counter = folder / LAST_VERSION_FILE
    refuse_link(counter)
    try:
        return counter, int(counter.read_text())
    except (OSError, ValueError):
        return counter, max((int(p.name) for p in folder.iterdir() if is_version(p.name)), default=0)


def _copy_hashed(src: Path, dst: Path) -> FileInfo:
    """Copy ``src`` to ``dst``, fsynced, hashing it on the way."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return FileInfo(sha256=digest.hexdigest(), bytes=size)
