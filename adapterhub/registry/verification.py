"""``hub registry verify``: every problem a registry holds, found without following, changing or deleting
anything.

It checks each version's files against its card (sha256 and size), the card against the files and the base (what
publishing checks, see :mod:`adapterhub.registry.validation`), symlinks wherever the registry keeps its own
entries, the aliases, the journal, and the index against the folders.
"""

from __future__ import annotations

from typing import Any

from adapterhub.cards.card import CARD_FILE, Card
from adapterhub.cards.records import Problem
from adapterhub.errors import RegistryCorrupt
from adapterhub.registry import index
from adapterhub.registry.aliases import Split, Target, versions_of
from adapterhub.registry.paths import link_target, work_folder
from adapterhub.registry.recovery import journal_entries, recover_if_needed
from adapterhub.registry.store import ALIASES_FILE, Store
from adapterhub.registry.validation import content_problems, stored_file_problems

AliasRow = tuple[str, str, int, float | None]  # (name, alias, version, weight), as the index holds it


def verify(store: Store) -> list[Problem]:
    """Every problem of the registry at ``store``; an empty list means it is intact."""
    store.require()
    problems = layout_problems(store)
    if not problems:
        try:
            recover_if_needed(store)
        except RegistryCorrupt as exc:  # reported with the rest; the journal stays for a later writer
            problems.append(Problem("journal", "", f"cannot replay the journal: {exc}"))
    on_disk: dict[tuple[str, int], str] = {}
    damaged: set[tuple[str, int]] = set()
    bases: dict[str, dict[str, Any] | None] = {}
    alias_rows: set[AliasRow] = set()
    compared: set[str] = set()  # names whose aliases could be read and hold no problem
    for name in store.name_folders():
        if (target := link_target(store.root / name)) is not None:
            problems.append(Problem(name, "", f"the name folder is a symlink (to {target}); a registry holds none"))
            continue
        problems += _version_problems(store, name, on_disk, damaged, bases)
        found_aliases = alias_problems(store, name)
        problems += found_aliases
        if not found_aliases:
            alias_rows |= _alias_rows(name, store.aliases(name))
            compared.add(name)
    return problems + _index_problems(store, on_disk, damaged, alias_rows, compared)


def _version_problems(
    store: Store,
    name: str,
    on_disk: dict[tuple[str, int], str],
    damaged: set[tuple[str, int]],
    bases: dict[str, dict[str, Any] | None],
) -> list[Problem]:
    """The problems of every version of ``name``; records each card read in ``on_disk``, each unreadable one in
    ``damaged`` (``bases`` caches each base's ``config.json``)."""
    problems = []
    for version in store.versions(name):
        where = f"{name}@{version}"
        directory = store.dir(name, version)
        try:
            card = store.card(name, version)
        except RegistryCorrupt as exc:
            damaged.add((name, version))
            if (target := link_target(directory)) is not None:
                problems.append(Problem(where, "", f"the version folder is a symlink (to {target})"))
            else:
                problems.append(Problem(where, CARD_FILE, str(exc)))
            continue
        on_disk[(name, version)] = card.to_json()
        found = stored_file_problems(where, directory, card)
        problems += found
        if not found:
            problems += [Problem(where, CARD_FILE, p) for p in content_problems(directory, card, bases)]
    return problems


def _index_problems(
    store: Store,
    on_disk: dict[tuple[str, int], str],
    damaged: set[tuple[str, int]],
    alias_rows: set[AliasRow],
    compared: set[str],
) -> list[Problem]:
    """Whether the index holds what the folders do: the cards read (``on_disk``, the ``damaged`` ones left out)
    and the aliases of the ``compared`` names."""
    index_path = store.index
    if not index_path.exists() or index_path.is_symlink():
        return []
    try:
        with index.connect(index_path) as db:
            rows = db.execute("SELECT name, version, card FROM versions").fetchall()
            indexed_aliases = index.alias_rows(db)
    except index.IndexDamaged as exc:
        return [Problem("index", index_path.name, f"{exc}; run `hub registry reindex`")]
    indexed = {(n, v): _normalized(c) for n, v, c in rows if (n, v) not in damaged}
    indexed_aliases = {row for row in indexed_aliases if row[0] in compared}
    if indexed != on_disk or indexed_aliases != alias_rows:
        return [Problem("index", index_path.name, "out of date; run `hub registry reindex`")]
    return []


def layout_problems(store: Store) -> list[Problem]:
    """Work folders, index and journal entries that are not what the registry writes."""
    problems = []
    for folder in (store.journal, store.staging, store.trash, store.downloads, store.logs, store.tune):
        try:
            work_folder(folder, create=False)
        except RegistryCorrupt as exc:
            problems.append(Problem("registry", folder.name, str(exc)))
            continue
        if folder == store.logs and folder.is_dir():  # a file of the log as a link: sqlite would follow it
            for entry in sorted(folder.iterdir()):
                if (target := link_target(entry)) is not None:
                    where = f"{folder.name}/{entry.name}"
                    problems.append(Problem("registry", where, f"a symlink (to {target}); a registry holds none"))
    for path in (store.index, store.lock):
        if (target := link_target(path)) is not None:
            problems.append(Problem("registry", path.name, f"a symlink (to {target}); a registry holds none"))
    if not problems:
        for entry in journal_entries(store)[2]:
            problems.append(
                Problem(
                    "journal",
                    entry.name,
                    "not a journal marker (a regular file named after an adapter); the registry leaves it "
                    f"alone: remove it by hand ({entry})",
                )
            )
    return problems


def alias_problems(store: Store, name: str) -> list[Problem]:
    """What is wrong with ``aliases.json`` of ``name``: a symlink, unreadable, or pointing to no version."""
    path = store.root / name / ALIASES_FILE
    if (target := link_target(path)) is not None:
        return [Problem(name, ALIASES_FILE, f"a symlink (to {target}); a registry holds none")]
    try:
        aliases = store.aliases(name)
    except RegistryCorrupt as exc:
        return [Problem(name, ALIASES_FILE, str(exc))]
    versions = set(store.versions(name))
    return [
        Problem(name, ALIASES_FILE, f"alias {name}:{alias} points to {name}@{v}, which does not exist")
        for alias, target in sorted(aliases.items())
        for v in versions_of(target)
        if v not in versions
    ]


def _alias_rows(name: str, aliases: dict[str, Target]) -> set[AliasRow]:
    """The index's alias rows of ``name``: one per version an alias points to, weighted in a split."""
    return {
        (name, alias, version, weight)
        for alias, target in aliases.items()
        for version, weight in (target.weights if isinstance(target, Split) else ((target, None),))
    }


def _normalized(card_json: str) -> str | None:
    """An indexed card as the current format writes it (older formats are migrated when read)."""
    try:
        return Card.from_json(card_json).to_json()
    except RegistryCorrupt:
        return None
