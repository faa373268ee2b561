"""The local adapter registry: versioned, verified, atomic and safe under concurrent publishers.

Layout (every version directory is a plain PEFT adapter directory plus our ``card.json``)::

    registry/
      sentiment/
        1/  adapter_config.json  adapter_model.safetensors  card.json
        2/  ...
        aliases.json         {"prod": 1, "canary": "weighted 1=0.9 2=0.1"}  (see adapterhub.registry.aliases)
        .last_version        highest version ever assigned (versions are never reused)
      .index.sqlite          cache for fast listing, rebuilt from the directories when missing
      .lock                  cross-process writer lock
      .staging/ .trash/      work areas; never listed
      .downloads/<sha256>    files a pull downloaded and verified, kept until their version is adopted (so an
                             interrupted pull resumes); never listed
      .journal/NAME          "NAME is being changed": replayed by the next writer or reader after a crash

A version becomes visible only through one ``rename`` of a complete, fsynced directory, so a crash at any
point leaves either no version or a whole one.

:class:`Registry` is the face; the work is done by the modules beside it: :mod:`~adapterhub.registry.store`
(the folders and reading them), :mod:`~adapterhub.registry.reading` (resolving, listing, loading),
:mod:`~adapterhub.registry.publishing` (new versions), :mod:`~adapterhub.registry.editing` (aliases and
evaluations), :mod:`~adapterhub.registry.removal`, :mod:`~adapterhub.registry.verification`, and
:mod:`~adapterhub.registry.recovery` with :mod:`~adapterhub.registry.indexing` (the journal, the garbage a crash
leaves, and the index).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapterhub.cards.card import Card
from adapterhub.cards.records import AdapterRecord, LoadedAdapter, Problem, RemovalPlan
from adapterhub.errors import ConfigError
from adapterhub.names import Ref, validate_name
from adapterhub.registry import editing, index, publishing, reading, recovery, removal, verification
from adapterhub.registry.aliases import Target
from adapterhub.registry.store import Store

ENV_VAR = "ADAPTERHUB_REGISTRY"
DEFAULT_PATH = "registry"


def default_root() -> Path:
    """The registry used when none is named: ``$ADAPTERHUB_REGISTRY``, else ``./registry``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


class Registry:
    """A directory of versioned adapters.

    Reading never creates a registry: every method but :meth:`publish` raises :class:`RegistryNotFound` when
    ``root`` does not exist. Nothing in the registry is a symlink, and none is ever followed (see
    :mod:`adapterhub.registry.paths`).

    Example:
        >>> reg = Registry("registry")                      # doctest: +SKIP
        >>> reg.publish("sentiment", "out/peft", card)      # doctest: +SKIP
        >>> reg.get("sentiment").version                    # doctest: +SKIP
        1
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._store = Store(Path(root) if root is not None else default_root())

    @property
    def root(self) -> Path:
        """The registry folder."""
        return self._store.root

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def exists(self) -> bool:
        """True when a registry folder exists at ``root`` (publishing creates it)."""
        return self.root.is_dir()

    # ---------------------------------------------------------------- reading

    def names(self) -> list[str]:
        """Names that have at least one version directory, sorted."""
        self._store.require()
        return self._store.names()

    def versions(self, name: str) -> list[int]:
        """Published versions of ``name``, oldest first."""
        validate_name(name)
        self._store.require()
        return self._store.versions(name)

    def get(self, ref: str | Ref, *, key: str | None = None) -> AdapterRecord:
        """The record of ``name``, ``name@VERSION`` or ``name:ALIAS``; :class:`AdapterNotFound` if absent.

        A weighted alias gives one of its versions, picked by weight: always the same one for the same ``key``
        (a caller's id), at random without one (see :mod:`adapterhub.registry.aliases`)."""
        return reading.get(self._store, ref, key=key)

    def get_one(self, ref: str | Ref) -> AdapterRecord:
        """:meth:`get` for callers that act on one version (export it, tag it): a weighted alias raises
        :class:`ConfigError` naming its versions, where :meth:`get` would pick one."""
        return reading.get_one(self._store, ref)

    def alias(self, ref: str | Ref) -> Target:
        """What ``name:ALIAS`` points to: a version, or a :class:`~adapterhub.registry.aliases.Split` of
        versions and weights; :class:`AdapterNotFound` as :meth:`get` raises it."""
        ref = reading.as_ref(ref)
        if ref.alias is None:
            raise ConfigError(f"{ref} is not an alias; name one as NAME:ALIAS")
        reading.settled(self._store)
        return self._store.alias_target(ref)

    def list(
        self,
        *,
        task: str | None = None,
        base: str | None = None,
        name: str | None = None,
        sort: str = "name",
        after: str | Ref | None = None,
        limit: int | None = None,
    ) -> list[AdapterRecord]:
        """Every version, from the index; filters match exactly. ``sort``: ``name`` (by name, newest version
        first), ``created`` (newest first), ``size`` (largest first) or ``metric`` (best headline metric first;
        lowest first for perplexity and loss), each keeping the ``name`` order among equals.

        A page (``sort="name"`` only): ``after`` (a NAME@VERSION, the last of the previous page) starts past it,
        ``limit`` caps the count; pages never repeat or skip a version.
        A ``name`` that has no version raises :class:`AdapterNotFound` (with the closest names)."""
        return reading.list_records(self._store, task=task, base=base, name=name, sort=sort, after=after, limit=limit)

    def listed_names(self) -> list[str]:
        """The names :meth:`list` shows, sorted, from the index in one query (no card is read)."""
        self._store.require()
        return reading.read_index(self._store, index.names)

    def aliases(self, name: str) -> dict[str, Target]:
        """Aliases of ``name`` and what they point to: a version, or a weighted
        :class:`~adapterhub.registry.aliases.Split` of versions."""
        validate_name(name)
        self._store.require()
        return self._store.aliases(name)

    def load(self, ref: str | Ref) -> LoadedAdapter:
        """Read a version's PEFT config and tensors after checking every file's sha256 against its card.

        Only safetensors are read; a missing, truncated, tampered or symlinked file raises
        :class:`RegistryCorrupt`.
        """
        return reading.load(self._store, ref)

    def read_verified(self, record: AdapterRecord, filename: str) -> bytes:
        """The bytes of one file of ``record`` (a name its card lists), after checking them against the sha256 on
        the card: a missing, tampered or symlinked file raises :class:`RegistryCorrupt`."""
        return self._store.read_verified(record, filename)

    # ---------------------------------------------------------------- writing

    def publish(self, name: str, source: str | os.PathLike[str], card: Card) -> AdapterRecord:
        """Copy a PEFT adapter directory into the registry as the next version of ``name``.

        ``source`` must hold ``adapter_config.json`` and ``adapter_model.safetensors`` (other json, text and
        safetensors files are kept too, except the empty model-card template PEFT writes as ``README.md``;
        pickle files are refused). The card is checked against the files first (see
        :mod:`adapterhub.registry.validation`): a card that contradicts itself raises :class:`ConfigError`,
        one that disagrees with the tensors or the base :class:`IncompatibleAdapter`, and nothing is published.
        The registry fills the card's name, version, file hashes, sizes, trainable parameter count and
        creation time.
        """
        return publishing.publish(self._store, name, Path(source), card)

    @contextmanager
    def staging_folder(self) -> Iterator[Path]:
        """A fresh, empty folder in the registry's staging area (created with the registry if needed), removed
        when the block ends; one a crashed process left is removed by the next writer. Fill it with a version's
        files and its ``card.json``, then hand it to :meth:`adopt`."""
        with publishing.staging_folder(self._store) as folder:
            yield folder

    def download_cache(self, *, create: bool = True) -> Path:
        """The work folder where pulls keep the files they downloaded and verified, named by sha256, until the
        version is adopted (created with the registry if needed; with ``create=False`` it may not exist). Nothing
        in it is ever listed or served; a file in it is trusted only after its sha256 is checked again."""
        return publishing.download_cache(self._store, create=create)

    def adopt(self, folder: str | os.PathLike[str]) -> AdapterRecord:
        """Publish a complete version folder that another registry wrote (its files and ``card.json``) under the
        card's own name and version number, so that ``name@version`` means the same bytes in both.

        The card must list exactly the files a version holds (config, weights, optionally a README.md: see
        :func:`~adapterhub.registry.validation.version_file_problems`). Every file is checked against the card
        (present, size, sha256, nothing unlisted) and the card against the files and the base, as
        :meth:`publish` checks: a mismatch raises :class:`RegistryCorrupt` (a file) or
        :class:`IncompatibleAdapter` (the card) naming it, and nothing is published. A version number the
        registry holds already raises :class:`RegistryConflict`. ``folder`` should be on the registry's file
        system (see :meth:`staging_folder`): it is renamed into place, so the version appears whole or not at
        all. Later versions published here are numbered above it."""
        return publishing.adopt(self._store, Path(folder))

    def tag(self, ref: str | Ref, alias: str) -> AdapterRecord:
        """Point ``name:alias`` at the version ``ref`` resolves to (moving it if it pointed elsewhere, and ending
        a split it made). ``ref`` must mean one version: a weighted alias raises :class:`ConfigError`."""
        return editing.tag(self._store, ref, alias)

    def tag_weighted(
        self, weights: Mapping[str | Ref, float] | Sequence[tuple[str | Ref, float]], alias: str
    ) -> Target:
        """Make ``name:alias`` split traffic between versions of one name by weight (a canary), e.g.
        ``tag_weighted([("sentiment@3", 0.9), ("sentiment@4", 0.1)], "prod")``; returns what the alias now points
        to (the split).

        Refused, with nothing changed: a reference that is not NAME@VERSION, versions of several names, the same
        version twice, a weight not above 0 and at most 1, weights that do not sum to 1 (within 1e-6): all
        :class:`ConfigError`; a version that does not exist: :class:`AdapterNotFound`; versions whose task,
        labels, base or quantization differ (they could not answer the same requests):
        :class:`IncompatibleAdapter`. A single version of weight 1 is a plain alias (:meth:`tag`)."""
        return editing.tag_weighted(self._store, weights, alias)

    def record_evaluation(self, ref: str | Ref, evaluation: dict[str, Any]) -> AdapterRecord:
        """Append ``evaluation`` (JSON-able) to the card's evaluation history; the version's files, and so its
        content hash, are untouched. The card is replaced atomically under the writer lock."""
        return editing.record_evaluation(self._store, ref, evaluation)

    def plan_removal(self, targets: str | Sequence[str], *, force: bool = False) -> RemovalPlan:
        """Plan removing each target: ``name`` (every version), ``name@V`` or ``name:alias`` (the version the
        alias points to). Nothing is touched.

        A target that does not exist raises (and so refuses the whole removal). Aliases that point to a planned
        version are part of the plan: removed with it when ``force``, else they make the plan ``blocked``.
        """
        return removal.plan_removal(self._store, targets, force=force)

    def remove(self, targets: str | Sequence[str], *, force: bool = False, dry_run: bool = False) -> RemovalPlan:
        """Remove what :meth:`plan_removal` plans; with ``dry_run`` only return the plan (blocked or not)."""
        plan = self.plan_removal(targets, force=force)
        return plan if dry_run else self.execute_removal(plan)

    def execute_removal(self, plan: RemovalPlan) -> RemovalPlan:
        """Carry out ``plan``: every planned version and (when forced) alias goes, under the writer lock.

        Refuses with :class:`RegistryConflict`, removing nothing, when the plan is blocked by aliases or when
        the registry changed since it was planned (then plan again)."""
        return removal.execute_removal(self._store, plan)

    # ---------------------------------------------------------------- upkeep

    def reindex(self) -> int:
        """Rebuild the index from the version directories; returns the number of versions indexed."""
        self._store.require()
        return recovery.reindex(self._store)

    def verify(self) -> list[Problem]:
        """Check every version: its files against the card (sha256 and size), the card against the files and
        the base (what :meth:`publish` checks), symlinks anywhere the registry keeps its own entries, the
        aliases, the journal, and the index against the directories. Returns the problems found; an empty
        list means the registry is intact. Nothing is followed, changed or deleted."""
        return verification.verify(self._store)
