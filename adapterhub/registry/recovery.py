"""Interrupted work: the journal that makes every change recoverable, and the garbage a crash leaves.

A writer holds the lock and leaves a marker ``.journal/NAME`` ("NAME is being changed") while it changes the
folders and the index of NAME. A crash leaves the marker behind; the next writer, or reader, replays it: the index
rows of NAME are rebuilt from its folders, then the trash is emptied and the staging folders of dead publishers
of this host are removed. Only the registry's own markers are acted on; anything else in the journal is left
alone and reported by ``verify``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from adapterhub.names import is_valid_name
from adapterhub.registry.files import atomic_write
from adapterhub.registry.indexing import rebuild_index, sync_index
from adapterhub.registry.locking import exclusive
from adapterhub.registry.paths import process_alive, remove_entry, work_folder
from adapterhub.registry.store import HOST, Store

# atomic_write's temporary name for a journal marker: random hex now, the writer's process id before
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]+\.tmp")


@contextmanager
def writing(store: Store, names: Iterable[str]) -> Iterator[None]:
    """Hold the writer lock, replay any crashed change, and journal the change to each of ``names``."""
    names = list(names)
    with exclusive(store.lock):
        replay_journal(store)
        work_folder(store.journal, create=True)
        markers = [store.journal / name for name in names]
        for marker in markers:
            atomic_write(marker, "changing\n")
        yield
        for marker in markers:
            marker.unlink()


def journal_entries(store: Store) -> tuple[list[Path], list[Path], list[Path]]:
    """(markers, temporary files, foreign entries) in the journal; only the first two are the registry's."""
    markers: list[Path] = []
    temps: list[Path] = []
    foreign: list[Path] = []
    if not work_folder(store.journal, create=False):
        return markers, temps, foreign
    for entry in sorted(store.journal.iterdir()):
        try:
            regular = stat.S_ISREG(os.lstat(entry).st_mode)
        except FileNotFoundError:  # a writer renamed or removed it meanwhile (readers hold no lock)
            continue
        temp = _TEMP.fullmatch(entry.name)
        if regular and is_valid_name(entry.name):
            markers.append(entry)
        elif regular and temp and is_valid_name(temp.group("name")):
            temps.append(entry)
        else:
            foreign.append(entry)
    return markers, temps, foreign


def recover_if_needed(store: Store) -> None:
    """Replay the journal when a crashed change left markers. Every read passes here, so every read refuses a
    work folder that is a symlink or not a directory, before anything could follow it."""
    work_folder(store.trash, create=False)
    work_folder(store.staging, create=False)
    markers, temps, _ = journal_entries(store)
    if markers or temps:
        with exclusive(store.lock):
            replay_journal(store)


def replay_journal(store: Store) -> None:
    """Bring the index in line with the directories for every change a crash interrupted. Lock held."""
    markers, temps, _ = journal_entries(store)
    for temp in temps:
        temp.unlink()
    for marker in markers:
        sync_index(store, marker.name)
        marker.unlink()
    empty_trash(store)
    clean_staging(store)


def reindex(store: Store) -> int:
    """Replay the journal and rebuild the index under the writer lock; returns the number of versions indexed."""
    with exclusive(store.lock):
        replay_journal(store)
        return rebuild_index(store)


def empty_trash(store: Store) -> None:
    """Delete what removals moved to the trash (lock held)."""
    if work_folder(store.trash, create=False):
        for entry in store.trash.iterdir():
            remove_entry(entry)


def clean_staging(store: Store) -> None:
    """Remove staging directories left by dead publishers of this host (their name holds host and pid)."""
    if not work_folder(store.staging, create=False):
        return
    for entry in store.staging.iterdir():
        host, _, rest = entry.name.partition("-")
        pid = rest.partition("-")[0]
        if host == HOST and pid.isascii() and pid.isdigit() and not process_alive(int(pid)):  # never int("²")
            remove_entry(entry)
