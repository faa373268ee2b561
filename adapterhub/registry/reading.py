"""Reading a registry as its users see it: resolving references, listing from the index, loading a version.

Every read first replays a change a crash interrupted (:func:`~adapterhub.registry.recovery.recover_if_needed`),
so a reader never sees the index disagree with the folders for long.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from adapterhub.cards.records import AdapterRecord, LoadedAdapter
from adapterhub.errors import ConfigError, RegistryCorrupt
from adapterhub.names import Ref, validate_name
from adapterhub.registry import index
from adapterhub.registry.recovery import recover_if_needed, reindex
from adapterhub.registry.store import Store
from adapterhub.registry.validation import CONFIG_FILE, REQUIRED_FILES, WEIGHTS_FILE

T = TypeVar("T")

SORTS = ("name", "created", "size", "metric")
# headline metrics where lower is better (every other one sorts highest first)
LOWER_IS_BETTER = ("perplexity", "loss")


def settled(store: Store) -> None:
    """Refuse a registry that does not exist, then replay any crashed change: what every read does first."""
    store.require()
    recover_if_needed(store)


def as_ref(ref: str | Ref) -> Ref:
    """``ref`` parsed, unless it is parsed already."""
    return ref if isinstance(ref, Ref) else Ref.parse(ref)


def get(store: Store, ref: str | Ref, *, key: str | None = None) -> AdapterRecord:
    """The record ``ref`` resolves to; a weighted alias picks a version by ``key``."""
    ref = as_ref(ref)
    settled(store)
    return store.record(ref.name, store.resolve(ref, key=key, pick=True))


def get_one(store: Store, ref: str | Ref) -> AdapterRecord:
    """:func:`get` for callers that act on one version: a weighted alias is refused, not picked from."""
    ref = as_ref(ref)
    settled(store)
    return store.record(ref.name, store.resolve(ref))


def read_index(store: Store, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` on the index, after any crashed change is replayed; a missing or damaged index (a cache) is
    first rebuilt from the directories."""
    recover_if_needed(store)
    if not store.index_path().exists():
        reindex(store)
    try:
        with index.connect(store.index_path()) as db:
            return read(db)
    except index.IndexDamaged:
        reindex(store)  # under the writer lock; the rebuilt file replaces the damaged one in one rename
    with index.connect(store.index_path()) as db:
        return read(db)


def list_records(
    store: Store,
    *,
    task: str | None,
    base: str | None,
    name: str | None,
    sort: str,
    after: str | Ref | None,
    limit: int | None,
) -> list[AdapterRecord]:
    """The versions :meth:`~adapterhub.registry.registry.Registry.list` shows, its arguments checked first."""
    if sort not in SORTS:
        raise ConfigError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)} (--sort)")
    if name is not None:
        validate_name(name)
    cursor = None
    if after is not None:
        ref = as_ref(after)
        if ref.version is None:
            raise ConfigError(f"a page starts after an exact NAME@VERSION, not {str(ref)!r}")
        cursor = (ref.name, ref.version)
    if (cursor is not None or limit is not None) and sort != "name":
        raise ConfigError("pages (after, limit) follow the name order; leave sort at 'name'")
    store.require()
    rows = read_index(store, lambda db: index.select(db, name=name, task=task, base=base, after=cursor, limit=limit))
    if name is not None and not rows and cursor is None and not store.versions(name):
        raise store.unknown_name(name)
    records = [
        AdapterRecord(c.name, c.version, store.dir(c.name, c.version), c, aliases, weights)
        for c, aliases, weights in rows
    ]
    return sorted_records(records, sort)


def sorted_records(records: list[AdapterRecord], sort: str) -> list[AdapterRecord]:
    """``records`` (in name order) sorted by ``sort``; a stable sort keeps the name order among equals."""
    if sort == "created":
        return sorted(records, key=lambda r: r.card.created, reverse=True)
    if sort == "size":
        return sorted(records, key=lambda r: r.card.size_bytes, reverse=True)
    if sort == "metric":

        def best_first(record: AdapterRecord) -> tuple[int, float]:
            headline = record.card.headline
            if headline is None:
                return (1, 0.0)
            return (0, headline[1] if headline[0] in LOWER_IS_BETTER else -headline[1])

        return sorted(records, key=best_first)
    return records


def load(store: Store, ref: str | Ref) -> LoadedAdapter:
    """The PEFT config and tensors of the version ``ref`` resolves to, every file checked against its card."""
    from safetensors.torch import load as load_safetensors  # imports torch: only when tensors are read

    record = get(store, ref)
    content = {}
    for filename in REQUIRED_FILES:
        content[filename] = store.read_verified(record, filename)
    try:
        config = json.loads(content[CONFIG_FILE])
        tensors = load_safetensors(content[WEIGHTS_FILE])
    except Exception as exc:
        raise RegistryCorrupt(f"{record.ref}: cannot parse its files ({exc}); run `hub registry verify`") from exc
    return LoadedAdapter(record=record, config=config, tensors=tensors)
