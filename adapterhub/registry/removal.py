"""Removing versions in two steps: a plan that touches nothing (``--dry-run`` shows it), then its execution.

Execution plans again under the writer lock and refuses when the registry changed since; the versions are
renamed into the trash (one rename each, so a crash leaves a version whole or gone) and the trash is emptied
last.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import replace

from adapterhub.cards.records import RemovalPlan
from adapterhub.errors import ConfigError, RegistryConflict, RegistryCorrupt
from adapterhub.names import Ref
from adapterhub.registry.aliases import Split, versions_of
from adapterhub.registry.files import fsync_path
from adapterhub.registry.indexing import sync_index
from adapterhub.registry.paths import work_folder
from adapterhub.registry.reading import settled
from adapterhub.registry.recovery import empty_trash, writing
from adapterhub.registry.store import Store, split_refs


def plan_removal(store: Store, targets: str | Sequence[str], *, force: bool) -> RemovalPlan:
    """The plan of removing ``targets`` (NAME, NAME@VERSION or NAME:ALIAS each); nothing is touched."""
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    if not targets:
        raise ConfigError("nothing to remove: name NAME, NAME@VERSION or NAME:ALIAS")
    refs = [Ref.parse(t) for t in targets]
    settled(store)
    return _plan(store, targets, refs, force)


def execute_removal(store: Store, plan: RemovalPlan) -> RemovalPlan:
    """Remove every version of ``plan`` (and, when forced, its aliases) under the writer lock."""
    if plan.blocked:
        raise plan.refusal()
    names = sorted({r.name for r in plan.versions})
    with writing(store, names):
        now = _plan(store, plan.targets, [Ref.parse(t) for t in plan.targets], plan.force)
        if [r.ref for r in now.versions] != [r.ref for r in plan.versions] or now.aliases != plan.aliases:
            raise RegistryConflict(
                "the registry changed since the removal was planned (versions or aliases moved); nothing was "
                "removed: run the command again"
            )
        if not work_folder(store.trash, create=True):
            raise RegistryCorrupt(f"cannot create {store.trash}")
        for name in names:
            doomed = {r.version for r in plan.versions if r.name == name}
            aliases = {a: t for a, t in store.aliases(name).items() if not doomed & set(versions_of(t))}
            store.write_aliases(name, aliases)
            for record in plan.versions:
                if record.name == name:
                    os.rename(record.path, store.trash / uuid.uuid4().hex)
            fsync_path(store.root / name)
            sync_index(store, name)
        empty_trash(store)
    return replace(plan, executed=True)


def _plan(store: Store, targets: tuple[str, ...], refs: list[Ref], force: bool) -> RemovalPlan:
    """The removal plan of ``refs`` (parsed ``targets``); lock held or not, nothing is recovered here."""
    chosen: dict[tuple[str, int], None] = {}
    for ref in refs:
        if ref.version is None and ref.alias is None:
            versions = store.versions(ref.name)
            if not versions:
                raise store.unknown_name(ref.name)
            chosen.update(((ref.name, v), None) for v in versions)
        else:
            if ref.alias is not None and isinstance(target := store.alias_target(ref), Split):
                raise ConfigError(
                    f"{ref} splits traffic between {split_refs(ref.name, target)}, so it names no one version "
                    f"to remove; name it as NAME@VERSION (the alias protects each version until it is moved "
                    f"with `hub tag`, or removed with --force)"
                )
            chosen[(ref.name, store.resolve(ref))] = None
    records = tuple(store.record(n, v) for n, v in sorted(chosen))
    aliases = tuple(f"{r.name}:{a}" for r in records for a in r.aliases)
    return RemovalPlan(versions=records, aliases=aliases, targets=targets, force=force)
