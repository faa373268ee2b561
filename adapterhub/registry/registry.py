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
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from adapterhub.cards.card import CARD_FILE, Card, FileInfo
from adapterhub.cards.records import AdapterRecord, LoadedAdapter, Problem, RemovalPlan
from adapterhub.errors import (
    AdapterHubError,
    AdapterNotFound,
    ConfigError,
    IncompatibleAdapter,
    RegistryConflict,
    RegistryCorrupt,
    RegistryNotFound,
)
from adapterhub.names import MAX_VERSION, Ref, is_valid_name, is_version, validate_name
from adapterhub.registry import index
from adapterhub.registry.aliases import TOLERANCE, Split, Target, decode, encode, versions_of
from adapterhub.registry.files import atomic_write, check_new_directory, count_parameters, fsync_path, new_directory
from adapterhub.registry.locking import exclusive
from adapterhub.registry.paths import link_target, process_alive, refuse_link, remove_entry, work_folder
from adapterhub.registry.validation import (
    CONFIG_FILE,
    REQUIRED_FILES,
    WEIGHTS_FILE,
    check_publishable,
    content_problems,
    source_files,
    stored_file_problems,
    version_file_problems,
)
from adapterhub.version import __version__

if TYPE_CHECKING:
    from adapterhub.export.peft import HubTarget

T = TypeVar("T")

ENV_VAR = "ADAPTERHUB_REGISTRY"
DEFAULT_PATH = "registry"
ALIASES_FILE = "aliases.json"
LAST_VERSION_FILE = ".last_version"
SORTS = ("name", "created", "size", "metric")
# headline metrics where lower is better (every other one sorts highest first)
LOWER_IS_BETTER = ("perplexity", "loss")
_HOST = socket.gethostname().replace("-", "_")
# atomic_write's temporary name for a journal marker: random hex now, the writer's process id before
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]+\.tmp")


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
        self.root = Path(root) if root is not None else default_root()
        self._index = self.root / ".index.sqlite"
        self._lock = self.root / ".lock"
        self._journal = self.root / ".journal"
        self._staging = self.root / ".staging"
        self._trash = self.root / ".trash"
        self._downloads = self.root / ".downloads"
        self._logs = self.root / ".logs"  # hub serve --log-predictions writes its log there
        self._tune = self.root / ".tune"  # hub tune keeps its studies there

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def exists(self) -> bool:
        """True when a registry folder exists at ``root`` (publishing creates it)."""
        return self.root.is_dir()

    # ---------------------------------------------------------------- reading

    def names(self) -> list[str]:
        """Names that have at least one version directory, sorted."""
        self._require()
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and p.is_dir() and is_valid_name(p.name) and self._versions(p.name)
        )

    def versions(self, name: str) -> list[int]:
        """Published versions of ``name``, oldest first."""
        validate_name(name)
        self._require()
        return self._versions(name)

    def get(self, ref: str | Ref, *, key: str | None = None) -> AdapterRecord:
        """The record of ``name``, ``name@VERSION`` or ``name:ALIAS``; :class:`AdapterNotFound` if absent.

        A weighted alias gives one of its versions, picked by weight: always the same one for the same ``key``
        (a caller's id), at random without one (see :mod:`adapterhub.registry.aliases`)."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        self._require()
        self._recover_if_needed()
        version = self._resolve(ref, key=key, pick=True)
        return self._record(ref.name, version)

    def alias(self, ref: str | Ref) -> Target:
        """What ``name:ALIAS`` points to: a version, or a :class:`~adapterhub.registry.aliases.Split` of
        versions and weights; :class:`AdapterNotFound` as :meth:`get` raises it."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        if ref.alias is None:
            raise ConfigError(f"{ref} is not an alias; name one as NAME:ALIAS")
        self._require()
        self._recover_if_needed()
        return self._alias_target(ref)

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
        if sort not in SORTS:
            raise ConfigError(f"unknown sort {sort!r}; choose one of: {', '.join(SORTS)} (--sort)")
        if name is not None:
            validate_name(name)
        cursor = None
        if after is not None:
            ref = after if isinstance(after, Ref) else Ref.parse(after)
            if ref.version is None:
                raise ConfigError(f"a page starts after an exact NAME@VERSION, not {str(ref)!r}")
            cursor = (ref.name, ref.version)
        if (cursor is not None or limit is not None) and sort != "name":
            raise ConfigError("pages (after, limit) follow the name order; leave sort at 'name'")
        self._require()
        rows = self._read_index(lambda db: index.select(db, name=name, task=task, base=base, after=cursor, limit=limit))
        if name is not None and not rows and cursor is None and not self._versions(name):
            raise self._unknown_name(name)
        records = [
            AdapterRecord(c.name, c.version, self._dir(c.name, c.version), c, aliases, weights)
            for c, aliases, weights in rows
        ]
        return _sorted(records, sort)

    def listed_names(self) -> list[str]:
        """The names :meth:`list` shows, sorted, from the index in one query (no card is read)."""
        self._require()
        return self._read_index(index.names)

    def aliases(self, name: str) -> dict[str, Target]:
        """Aliases of ``name`` and what they point to: a version, or a weighted
        :class:`~adapterhub.registry.aliases.Split` of versions."""
        validate_name(name)
        self._require()
        folder = self.root / name
        path = folder / ALIASES_FILE
        refuse_link(folder)
        refuse_link(path)
        if not path.exists():
            return {}
        try:
            return {str(k): decode(v) for k, v in json.loads(path.read_text()).items()}
        except (ValueError, AttributeError) as exc:
            raise RegistryCorrupt(
                f"unreadable {path}: {exc}; fix or delete it, then run `hub registry reindex`"
            ) from exc

    def load(self, ref: str | Ref) -> LoadedAdapter:
        """Read a version's PEFT config and tensors after checking every file's sha256 against its card.

        Only safetensors are read; a missing, truncated, tampered or symlinked file raises
        :class:`RegistryCorrupt`.
        """
        from safetensors.torch import load as load_safetensors

        record = self.get(ref)
        content = {}
        for filename in REQUIRED_FILES:
            content[filename] = self._read_verified(record, filename)
        try:
            config = json.loads(content[CONFIG_FILE])
            tensors = load_safetensors(content[WEIGHTS_FILE])
        except Exception as exc:
            raise RegistryCorrupt(f"{record.ref}: cannot parse its files ({exc}); run `hub registry verify`") from exc
        return LoadedAdapter(record=record, config=config, tensors=tensors)

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
        validate_name(name)
        files = source_files(Path(source))
        check_publishable(name, Path(source), card)
        refuse_link(self.root / name)  # before journaling a change to it
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            work_folder(self._staging, create=True)
        except OSError as exc:
            raise _disk_error(exc, f"publishing {name}") from exc
        staging = self._staging / f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"
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
            with self._writing([name]):
                version = self._next_version(name)
                card = replace(card, version=version)
                atomic_write(staging / CARD_FILE, card.to_json())
                fsync_path(staging)
                target = self._dir(name, version)
                os.rename(staging, target)
                fsync_path(target.parent)
                self._index_new(card)
            return AdapterRecord(name, version, target, card, ())
        except OSError as exc:
            raise _disk_error(exc, f"publishing {name}") from exc
        finally:
            remove_entry(staging)

    @contextmanager
    def staging_folder(self) -> Iterator[Path]:
        """A fresh, empty folder in the registry's staging area (created with the registry if needed), removed
        when the block ends; one a crashed process left is removed by the next writer. Fill it with a version's
        files and its ``card.json``, then hand it to :meth:`adopt`."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            work_folder(self._staging, create=True)
            folder = self._staging / f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"
            folder.mkdir()
        except OSError as exc:
            raise _disk_error(exc, "creating a staging folder") from exc
        try:
            yield folder
        finally:
            remove_entry(folder)

    def download_cache(self, *, create: bool = True) -> Path:
        """The work folder where pulls keep the files they downloaded and verified, named by sha256, until the
        version is adopted (created with the registry if needed; with ``create=False`` it may not exist). Nothing
        in it is ever listed or served; a file in it is trusted only after its sha256 is checked again."""
        try:
            if create:
                self.root.mkdir(parents=True, exist_ok=True)
            work_folder(self._downloads, create=create)
        except OSError as exc:
            raise _disk_error(exc, "creating the download cache") from exc
        return self._downloads

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
        folder = Path(folder)
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
        refuse_link(self.root / name)
        try:
            with self._writing([name]):
                target = self._dir(name, version)
                if os.path.lexists(target):
                    raise RegistryConflict(f"{where} exists in {self.root}; a version is never overwritten")
                self._raise_counter(name, version)
                fsync_path(folder)
                os.rename(folder, target)
                fsync_path(target.parent)
                self._index_new(card)
        except OSError as exc:
            raise _disk_error(exc, f"adopting {where}") from exc
        return self._record(name, version)

    def tag(self, ref: str | Ref, alias: str) -> AdapterRecord:
        """Point ``name:alias`` at the version ``ref`` resolves to (moving it if it pointed elsewhere, and ending
        a split it made). ``ref`` must mean one version: a weighted alias raises :class:`ConfigError`."""
        validate_name(alias, "alias")
        record = self._get_one(ref)
        with self._writing([record.name]):
            aliases = self.aliases(record.name)
            aliases[alias] = record.version
            self._write_aliases(record.name, aliases)
            self._sync_index(record.name)
        return self.get(Ref(record.name, version=record.version))

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
        validate_name(alias, "alias")
        pairs = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        refs: list[tuple[Ref, float]] = []
        for text, weight in pairs:
            ref = text if isinstance(text, Ref) else Ref.parse(text)
            if ref.version is None:
                raise ConfigError(f"{str(ref)!r} in a split: a split names exact versions, NAME@VERSION=WEIGHT")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ConfigError(f"the weight of {ref} is {weight!r}; a weight is a number above 0 and at most 1")
            refs.append((ref, float(weight)))
        if not refs:
            raise ConfigError("a split needs versions and weights, e.g. NAME@3=0.9 NAME@4=0.1")
        names = sorted({ref.name for ref, _ in refs})
        if len(names) > 1:
            raise ConfigError(
                f"a split is between versions of one name, not of {' and '.join(names)}; an alias belongs to one name"
            )
        name = names[0]
        if len(refs) == 1:
            ref, weight = refs[0]
            if abs(weight - 1) > TOLERANCE:
                raise ConfigError(f"the weights sum to {weight:g}, not 1; a single version takes weight 1 (or none)")
            return self.tag(ref, alias).version
        split = Split(tuple(sorted((ref.version or 0, w) for ref, w in refs)))
        self._require()
        self._recover_if_needed()
        with self._writing([name]):
            versions = self._versions(name)
            if not versions:
                raise self._unknown_name(name)
            for version in split.versions:
                if version not in versions:
                    raise AdapterNotFound(
                        f"{name} has no version {version} (versions: {_ranges(versions)}); nothing was changed "
                        f"(see `hub list {name}`)"
                    )
            _check_compatible([self._card(name, v) for v in split.versions])
            aliases = self.aliases(name)
            aliases[alias] = split
            self._write_aliases(name, aliases)
            self._sync_index(name)
        return split

    def record_evaluation(self, ref: str | Ref, evaluation: dict[str, Any]) -> AdapterRecord:
        """Append ``evaluation`` (JSON-able) to the card's evaluation history; the version's files, and so its
        content hash, are untouched. The card is replaced atomically under the writer lock."""
        record = self._get_one(ref)
        with self._writing([record.name]):
            card = self._card(record.name, record.version)  # re-read under the lock: no lost appends
            card = replace(card, evaluations=(*card.evaluations, evaluation))
            try:
                atomic_write(record.path / CARD_FILE, card.to_json())
            except OSError as exc:
                raise _disk_error(exc, f"recording an evaluation of {record.ref}") from exc
            self._sync_index(record.name)
        return self.get(Ref(record.name, version=record.version))

    def plan_removal(self, targets: str | Sequence[str], *, force: bool = False) -> RemovalPlan:
        """Plan removing each target: ``name`` (every version), ``name@V`` or ``name:alias`` (the version the
        alias points to). Nothing is touched.

        A target that does not exist raises (and so refuses the whole removal). Aliases that point to a planned
        version are part of the plan: removed with it when ``force``, else they make the plan ``blocked``.
        """
        targets = (targets,) if isinstance(targets, str) else tuple(targets)
        if not targets:
            raise ConfigError("nothing to remove: name NAME, NAME@VERSION or NAME:ALIAS")
        refs = [Ref.parse(t) for t in targets]
        self._require()
        self._recover_if_needed()
        return self._plan(targets, refs, force)

    def remove(self, targets: str | Sequence[str], *, force: bool = False, dry_run: bool = False) -> RemovalPlan:
        """Remove what :meth:`plan_removal` plans; with ``dry_run`` only return the plan (blocked or not)."""
        plan = self.plan_removal(targets, force=force)
        return plan if dry_run else self.execute_removal(plan)

    def execute_removal(self, plan: RemovalPlan) -> RemovalPlan:
        """Carry out ``plan``: every planned version and (when forced) alias goes, under the writer lock.

        Refuses with :class:`RegistryConflict`, removing nothing, when the plan is blocked by aliases or when
        the registry changed since it was planned (then plan again)."""
        if plan.blocked:
            raise plan.refusal()
        names = sorted({r.name for r in plan.versions})
        with self._writing(names):
            now = self._plan(plan.targets, [Ref.parse(t) for t in plan.targets], plan.force)
            if [r.ref for r in now.versions] != [r.ref for r in plan.versions] or now.aliases != plan.aliases:
                raise RegistryConflict(
                    "the registry changed since the removal was planned (versions or aliases moved); nothing was "
                    "removed: run the command again"
                )
            if not work_folder(self._trash, create=True):
                raise RegistryCorrupt(f"cannot create {self._trash}")
            for name in names:
                doomed = {r.version for r in plan.versions if r.name == name}
                aliases = {a: t for a, t in self.aliases(name).items() if not doomed & set(versions_of(t))}
                self._write_aliases(name, aliases)
                for record in plan.versions:
                    if record.name == name:
                        os.rename(record.path, self._trash / uuid.uuid4().hex)
                fsync_path(self.root / name)
                self._sync_index(name)
            self._empty_trash()
        return replace(plan, executed=True)

    def reindex(self) -> int:
        """Rebuild the index from the version directories; returns the number of versions indexed."""
        self._require()
        with exclusive(self._lock):
            self._replay_journal()
            return self._rebuild_index()

    def verify(self) -> list[Problem]:
        """Check every version: its files against the card (sha256 and size), the card against the files and
        the base (what :meth:`publish` checks), symlinks anywhere the registry keeps its own entries, the
        aliases, the journal, and the index against the directories. Returns the problems found; an empty
        list means the registry is intact. Nothing is followed, changed or deleted."""
        self._require()
        problems = self._layout_problems()
        if not problems:
            try:
                self._recover_if_needed()
            except RegistryCorrupt as exc:  # reported with the rest; the journal stays for a later writer
                problems.append(Problem("journal", "", f"cannot replay the journal: {exc}"))
        on_disk: dict[tuple[str, int], str] = {}
        damaged: set[tuple[str, int]] = set()
        bases: dict[str, dict[str, Any] | None] = {}
        alias_rows: set[tuple[str, str, int, float | None]] = set()
        compared: set[str] = set()  # names whose aliases could be read and hold no problem
        for name in self._name_folders():
            folder = self.root / name
            if (target := link_target(folder)) is not None:
                problems.append(Problem(name, "", f"the name folder is a symlink (to {target}); a registry holds none"))
                continue
            for version in self._versions(name):
                where = f"{name}@{version}"
                directory = self._dir(name, version)
                try:
                    card = self._card(name, version)
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
            found_aliases = self._alias_problems(name)
            problems += found_aliases
            if not found_aliases:
                alias_rows |= _alias_rows(name, self.aliases(name))
                compared.add(name)
        index_path = self._index
        if index_path.exists() and not index_path.is_symlink():
            try:
                with index.connect(index_path) as db:
                    rows = db.execute("SELECT name, version, card FROM versions").fetchall()
                    indexed_aliases = index.alias_rows(db)
            except index.IndexDamaged as exc:
                problems.append(Problem("index", index_path.name, f"{exc}; run `hub registry reindex`"))
                return problems
            indexed = {(n, v): _normalized(c) for n, v, c in rows if (n, v) not in damaged}
            indexed_aliases = {row for row in indexed_aliases if row[0] in compared}
            if indexed != on_disk or indexed_aliases != alias_rows:
                problems.append(Problem("index", index_path.name, "out of date; run `hub registry reindex`"))
        return problems

    def export(self, ref: str | Ref, dest: str | os.PathLike[str], *, hub: HubTarget | None = None) -> AdapterRecord:
        """Write a version's verified files to the new folder ``dest`` as transformers + PEFT load them, with its
        card and a README model card (the layout by task is in :mod:`adapterhub.export.peft`); with ``hub``, as
        the Hugging Face Hub repo it names will hold them (no path of this machine in any file)."""
        from adapterhub.export.peft import write_export

        record = self._get_one(ref)
        check_new_directory(Path(dest))
        files = {filename: self._read_verified(record, filename) for filename in record.card.files}
        try:
            with new_directory(Path(dest)) as tmp:
                write_export(record.card, files, tmp, Path(dest).resolve(), hub)
                if hub is None:  # the Hub's export writes its own card.json
                    shutil.copyfile(record.path / CARD_FILE, tmp / CARD_FILE)
        except OSError as exc:
            raise _disk_error(exc, f"exporting {record.ref}") from exc
        return record

    # ---------------------------------------------------------------- internals

    def _require(self) -> None:
        """Raise :class:`RegistryNotFound` unless ``root`` is a directory: reading never creates a registry."""
        if not self.root.is_dir():
            what = "is not a directory" if self.root.exists() else "does not exist"
            raise RegistryNotFound(
                f"no registry at {self.root} (the path {what}); `hub train` or `hub import` creates one there, "
                "or point --registry (or ADAPTERHUB_REGISTRY) at an existing registry"
            )

    def _dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def _index_path(self) -> Path:
        refuse_link(self._index)  # sqlite would write through it
        return self._index

    def _name_folders(self) -> list[str]:
        """Every entry of the root that can be a name (symlinks included, so that verify reports them)."""
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and is_valid_name(p.name))

    def _versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if is_version(p.name) and (p / CARD_FILE).is_file())

    def _indexed_names(self) -> list[str]:
        """Names from the index (no card is read), or from the folders when there is no index yet."""
        path = self._index_path()
        if path.exists():
            try:
                with index.connect(path) as db:
                    return index.names(db)
            except index.IndexDamaged:
                pass  # the folders say the same, only slower
        return self.names()

    def _unknown_name(self, name: str) -> AdapterNotFound:
        names = self._indexed_names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f": did you mean {' or '.join(close)}?" if close else ""
        have = (", ".join(names[:20]) + (" …" if len(names) > 20 else "")) if names else "none"
        return AdapterNotFound(f"no adapter named {name!r} in {self.root}{hint} (available: {have}; see `hub list`)")

    def _resolve(self, ref: Ref, *, key: str | None = None, pick: bool = False) -> int:
        """The version ``ref`` means. A weighted alias picks one of its versions when ``pick`` (by ``key``, else
        at random); otherwise it raises :class:`ConfigError`, for the callers that must name one version."""
        versions = self._versions(ref.name)
        if not versions:
            raise self._unknown_name(ref.name)
        if ref.alias is not None:
            target = self._alias_target(ref)
            if isinstance(target, Split):
                if not pick:
                    raise ConfigError(
                        f"{ref} splits traffic between {_split_refs(ref.name, target)}; name one version "
                        f"(NAME@VERSION) here"
                    )
                version = target.route(str(ref), key)
            else:
                version = target
            if version not in versions:
                raise AdapterNotFound(f"alias {ref} points to removed version {version}; move it with `hub tag`")
            return version
        if ref.version is None:
            return versions[-1]
        if ref.version not in versions:
            raise AdapterNotFound(
                f"{ref.name} has no version {ref.version} (versions: {_ranges(versions)}); see `hub list {ref.name}`"
            )
        return ref.version

    def _alias_target(self, ref: Ref) -> Target:
        """What ``ref`` (NAME:ALIAS) points to; :class:`AdapterNotFound` naming the closest aliases if none."""
        assert ref.alias is not None
        if not self._versions(ref.name):
            raise self._unknown_name(ref.name)
        aliases = self.aliases(ref.name)
        if ref.alias not in aliases:
            close = difflib.get_close_matches(ref.alias, list(aliases), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(f'{ref.name}:{a}' for a in close)}? " if close else ""
            have = ", ".join(sorted(aliases)) or "none"
            raise AdapterNotFound(
                f"{ref.name} has no alias {ref.alias!r} ({hint}aliases: {have}); "
                f"set it with `hub tag {ref.name}@VERSION {ref.alias}`"
            )
        return aliases[ref.alias]

    def _get_one(self, ref: str | Ref) -> AdapterRecord:
        """:meth:`get` for callers that act on one version: a weighted alias is refused, not picked from."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        self._require()
        self._recover_if_needed()
        return self._record(ref.name, self._resolve(ref))

    def _write_aliases(self, name: str, aliases: dict[str, Target]) -> None:
        """Replace ``aliases.json`` of ``name`` (lock held): plain aliases as their version, as always."""
        document = {alias: encode(target) for alias, target in aliases.items()}
        atomic_write(self.root / name / ALIASES_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n")

    def _card(self, name: str, version: int) -> Card:
        folder = self._dir(name, version)
        path = folder / CARD_FILE
        for entry in (folder.parent, folder, path):
            refuse_link(entry)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise RegistryCorrupt(f"{name}@{version}: cannot read {CARD_FILE} ({exc.strerror or exc})") from exc
        card = Card.from_json(text, f"{name}@{version}")
        if (card.name, card.version) != (name, version):
            raise RegistryCorrupt(
                f"{name}@{version}: its card says {card.name}@{card.version}; run `hub registry verify`"
            )
        return card

    def _record(self, name: str, version: int) -> AdapterRecord:
        card = self._card(name, version)
        targets = self.aliases(name)
        aliases = tuple(sorted(a for a, t in targets.items() if version in versions_of(t)))
        weights = tuple(
            (a, t.weight(version)) for a, t in sorted(targets.items()) if isinstance(t, Split) and a in aliases
        )
        return AdapterRecord(name, version, self._dir(name, version), card, aliases, weights)

    def _read_verified(self, record: AdapterRecord, filename: str) -> bytes:
        info = record.card.files.get(filename)
        if info is None:
            raise RegistryCorrupt(f"{record.ref}: its card lists no {filename}; run `hub registry verify`")
        path = record.path / filename
        refuse_link(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RegistryCorrupt(  # the ref and file name say where: no path (a server's answers carry these)
                f"{record.ref}: cannot read {filename} ({exc.strerror or exc}); run `hub registry verify`"
            ) from exc
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise RegistryCorrupt(
                f"{record.ref}: {filename} does not match the sha256 in its card (corrupt or tampered); "
                f"refusing to load it. Run `hub registry verify`, then `hub rm {record.ref}` and publish it again"
            )
        return data

    def _plan(self, targets: tuple[str, ...], refs: list[Ref], force: bool) -> RemovalPlan:
        """The removal plan of ``refs`` (parsed ``targets``); lock held or not, nothing is recovered here."""
        chosen: dict[tuple[str, int], None] = {}
        for ref in refs:
            if ref.version is None and ref.alias is None:
                versions = self._versions(ref.name)
                if not versions:
                    raise self._unknown_name(ref.name)
                chosen.update(((ref.name, v), None) for v in versions)
            else:
                if ref.alias is not None and isinstance(target := self._alias_target(ref), Split):
                    raise ConfigError(
                        f"{ref} splits traffic between {_split_refs(ref.name, target)}, so it names no one version "
                        f"to remove; name it as NAME@VERSION (the alias protects each version until it is moved "
                        f"with `hub tag`, or removed with --force)"
                    )
                chosen[(ref.name, self._resolve(ref))] = None
        records = tuple(self._record(n, v) for n, v in sorted(chosen))
        aliases = tuple(f"{r.name}:{a}" for r in records for a in r.aliases)
        return RemovalPlan(versions=records, aliases=aliases, targets=targets, force=force)

    def _next_version(self, name: str) -> int:
        counter, last = self._last_version(name)
        version = last + 1
        while os.path.lexists(self._dir(name, version)):  # a counter older than the directories: never reuse
            version += 1
        if version > MAX_VERSION:  # a version no reference could name again (one pulled at the bound, say)
            raise RegistryConflict(
                f"{name} has reached its last version, {name}@{MAX_VERSION}; publish under another name"
            )
        atomic_write(counter, f"{version}\n")
        return version

    def _raise_counter(self, name: str, version: int) -> None:
        """Make sure the next version :meth:`publish` assigns to ``name`` is above ``version``. Lock held."""
        counter, last = self._last_version(name)
        if version > last:
            atomic_write(counter, f"{version}\n")

    def _last_version(self, name: str) -> tuple[Path, int]:
        """The counter file of ``name`` (its folder created) and the highest version it records (without a
        readable counter: the highest version folder)."""
        folder = self.root / name
        refuse_link(folder)
        folder.mkdir(exist_ok=True)
        counter = folder / LAST_VERSION_FILE
        refuse_link(counter)
        try:
            return counter, int(counter.read_text())
        except (OSError, ValueError):
            return counter, max((int(p.name) for p in folder.iterdir() if is_version(p.name)), default=0)

    @contextmanager
    def _writing(self, names: Iterable[str]) -> Iterator[None]:
        """Hold the writer lock, replay any crashed change, and journal the change to each of ``names``."""
        names = list(names)
        with exclusive(self._lock):
            self._replay_journal()
            work_folder(self._journal, create=True)
            markers = [self._journal / name for name in names]
            for marker in markers:
                atomic_write(marker, "changing\n")
            yield
            for marker in markers:
                marker.unlink()

    def _journal_entries(self) -> tuple[list[Path], list[Path], list[Path]]:
        """(markers, temporary files, foreign entries) in the journal; only the first two are the registry's."""
        markers: list[Path] = []
        temps: list[Path] = []
        foreign: list[Path] = []
        if not work_folder(self._journal, create=False):
            return markers, temps, foreign
        for entry in sorted(self._journal.iterdir()):
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

    def _recover_if_needed(self) -> None:
        """Replay the journal when a crashed change left markers. Every read passes here, so every read refuses
        a work folder that is a symlink or not a directory, before anything could follow it."""
        work_folder(self._trash, create=False)
        work_folder(self._staging, create=False)
        markers, temps, _ = self._journal_entries()
        if markers or temps:
            with exclusive(self._lock):
                self._replay_journal()

    def _replay_journal(self) -> None:
        """Bring the index in line with the directories for every change a crash interrupted. Lock held.

        Only the registry's own markers (a file named after an adapter) are acted on; anything else in the
        journal is left alone and reported by :meth:`verify`."""
        markers, temps, _ = self._journal_entries()
        for temp in temps:
            temp.unlink()
        for marker in markers:
            self._sync_index(marker.name)
            marker.unlink()
        self._empty_trash()
        self._clean_staging()

    def _sync_index(self, name: str) -> None:
        if not self._index_path().exists():
            self._rebuild_index()
            return
        cards = [self._card(name, v) for v in self._versions(name)]
        aliases = self.aliases(name) if (self.root / name).is_dir() else {}
        try:
            with index.connect(self._index) as db:
                index.replace_name(db, name, cards, aliases)
        except index.IndexDamaged:
            self._rebuild_index()

    def _index_new(self, card: Card) -> None:
        if not self._index_path().exists():
            self._rebuild_index()
            return
        try:
            with index.connect(self._index) as db:
                index.add(db, card)
        except index.IndexDamaged:
            self._rebuild_index()

    def _read_index(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """``read(db)`` on the index, after any crashed change is replayed; a missing or damaged index (a cache)
        is first rebuilt from the directories."""
        self._recover_if_needed()
        if not self._index_path().exists():
            self.reindex()
        try:
            with index.connect(self._index_path()) as db:
                return read(db)
        except index.IndexDamaged:
            self.reindex()  # under the writer lock; the rebuilt file replaces the damaged one in one rename
        with index.connect(self._index_path()) as db:
            return read(db)

    def _rebuild_index(self) -> int:
        contents = [(n, [self._card(n, v) for v in self._versions(n)], self.aliases(n)) for n in self.names()]
        index.rebuild(self._index_path(), contents)
        return sum(len(cards) for _, cards, _ in contents)

    def _empty_trash(self) -> None:
        if work_folder(self._trash, create=False):
            for entry in self._trash.iterdir():
                remove_entry(entry)

    def _clean_staging(self) -> None:
        """Remove staging directories left by dead publishers of this host (their name holds host and pid)."""
        if not work_folder(self._staging, create=False):
            return
        for entry in self._staging.iterdir():
            host, _, rest = entry.name.partition("-")
            pid = rest.partition("-")[0]
            if host == _HOST and pid.isascii() and pid.isdigit() and not process_alive(int(pid)):  # never int("²")
                remove_entry(entry)

    def _layout_problems(self) -> list[Problem]:
        """Work folders, index and journal entries that are not what the registry writes (for verify)."""
        problems = []
        for folder in (self._journal, self._staging, self._trash, self._downloads, self._logs, self._tune):
            try:
                work_folder(folder, create=False)
            except RegistryCorrupt as exc:
                problems.append(Problem("registry", folder.name, str(exc)))
                continue
            if folder == self._logs and folder.is_dir():  # a file of the log as a link: sqlite would follow it
                for entry in sorted(folder.iterdir()):
                    if (target := link_target(entry)) is not None:
                        where = f"{folder.name}/{entry.name}"
                        problems.append(Problem("registry", where, f"a symlink (to {target}); a registry holds none"))
        for path in (self._index, self._lock):
            if (target := link_target(path)) is not None:
                problems.append(Problem("registry", path.name, f"a symlink (to {target}); a registry holds none"))
        if not problems:
            for entry in self._journal_entries()[2]:
                problems.append(
                    Problem(
                        "journal",
                        entry.name,
                        "not a journal marker (a regular file named after an adapter); the registry leaves it "
                        f"alone: remove it by hand ({entry})",
                    )
                )
        return problems

    def _alias_problems(self, name: str) -> list[Problem]:
        path = self.root / name / ALIASES_FILE
        if (target := link_target(path)) is not None:
            return [Problem(name, ALIASES_FILE, f"a symlink (to {target}); a registry holds none")]
        try:
            aliases = self.aliases(name)
        except RegistryCorrupt as exc:
            return [Problem(name, ALIASES_FILE, str(exc))]
        versions = set(self._versions(name))
        return [
            Problem(name, ALIASES_FILE, f"alias {name}:{alias} points to {name}@{v}, which does not exist")
            for alias, target in sorted(aliases.items())
            for v in versions_of(target)
            if v not in versions
        ]


def _alias_rows(name: str, aliases: dict[str, Target]) -> set[tuple[str, str, int, float | None]]:
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


def _copy_hashed(src: Path, dst: Path) -> FileInfo:
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return FileInfo(sha256=digest.hexdigest(), bytes=size)


def _disk_error(exc: OSError, doing: str) -> AdapterHubError:
    if exc.errno == errno.ENOSPC:
        return AdapterHubError(
            f"no space left on device while {doing}; the registry is unchanged. Free space and retry"
        )
    return AdapterHubError(f"{doing} failed: {exc.strerror or exc} ({exc.filename}); the registry is unchanged")


def _split_refs(name: str, split: Split) -> str:
    return " and ".join(f"{name}@{v} ({w:g})" for v, w in split.weights)


def _check_compatible(cards: list[Card]) -> None:
    """Raise :class:`IncompatibleAdapter` unless every card answers the same requests the same way: one task,
    label set, base (id and weights) and quantization, as the versions of one alias must."""
    first = cards[0]
    for card in cards[1:]:
        for what, mine, theirs in (
            ("task", card.task, first.task),
            ("labels", ",".join(card.labels), ",".join(first.labels)),
            ("base", card.base.id, first.base.id),
            ("base fingerprint", card.base.fingerprint, first.base.fingerprint),
            ("quantization", card.inference.quantize or "none", first.inference.quantize or "none"),
        ):
            if mine != theirs:
                raise IncompatibleAdapter(
                    f"{card.name}@{card.version} and {first.name}@{first.version} cannot share an alias: different "
                    f"{what} ({mine or '-'} vs {theirs or '-'}); the versions of a split must answer the same "
                    "requests. Nothing was changed"
                )


def _ranges(versions: list[int]) -> str:
    if len(versions) <= 12:
        return ", ".join(map(str, versions))
    return f"{versions[0]}…{versions[-1]} ({len(versions)} in all)"


def _sorted(records: list[AdapterRecord], sort: str) -> list[AdapterRecord]:
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
