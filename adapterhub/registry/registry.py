"""The local adapter registry: versioned, verified, atomic and safe under concurrent publishers.

Layout (every version directory is a plain PEFT adapter directory plus our ``card.json``)::

    registry/
      sentiment/
        1/  adapter_config.json  adapter_model.safetensors  card.json
        2/  ...
        aliases.json         {"prod": 1}
        .last_version        highest version ever assigned (versions are never reused)
      .index.sqlite          cache for fast listing, rebuilt from the directories when missing
      .lock                  cross-process writer lock
      .staging/ .trash/      work areas; never listed
      .journal/NAME          "NAME is being changed": replayed by the next writer or reader after a crash

A version becomes visible only through one ``rename`` of a complete, fsynced directory, so a crash at any
point leaves either no version or a whole one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapterhub import __version__
from adapterhub.errors import AdapterHubError, AdapterNotFound, ConfigError, RegistryConflict, RegistryCorrupt
from adapterhub.names import Ref, is_version, validate_name
from adapterhub.registry import index
from adapterhub.registry.card import CARD_FILE, Card, FileInfo
from adapterhub.registry.files import (
    atomic_write,
    count_parameters,
    fsync_path,
    new_directory,
    safetensors_header,
    sha256_file,
)
from adapterhub.registry.locking import exclusive
from adapterhub.registry.records import AdapterRecord, LoadedAdapter, Problem, RemovalPlan

ENV_VAR = "ADAPTERHUB_REGISTRY"
DEFAULT_PATH = "registry"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
ALIASES_FILE = "aliases.json"
LAST_VERSION_FILE = ".last_version"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_HOST = socket.gethostname().replace("-", "_")


def default_root() -> Path:
    """The registry used when none is named: ``$ADAPTERHUB_REGISTRY``, else ``./registry``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


class Registry:
    """A directory of versioned adapters.

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

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # ---------------------------------------------------------------- reading

    def names(self) -> list[str]:
        """Names that have at least one version directory, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".") and self._versions(p.name)
        )

    def versions(self, name: str) -> list[int]:
        """Published versions of ``name``, oldest first."""
        return self._versions(validate_name(name))

    def get(self, ref: str | Ref) -> AdapterRecord:
        """The record of ``name``, ``name@VERSION`` or ``name:ALIAS``; :class:`AdapterNotFound` if absent."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        self._recover_if_needed()
        version = self._resolve(ref)
        return self._record(ref.name, version)

    def list(
        self,
        *,
        task: str | None = None,
        base: str | None = None,
        name: str | None = None,
        after: str | Ref | None = None,
        limit: int | None = None,
    ) -> list[AdapterRecord]:
        """Every version (newest first within a name), from the index; filters match exactly.

        A page: ``after`` (a NAME@VERSION, the last of the previous page) starts past it, ``limit`` caps the count.
        """
        if not self.root.is_dir():
            return []
        cursor = None
        if after is not None:
            ref = after if isinstance(after, Ref) else Ref.parse(after)
            if ref.version is None:
                raise ConfigError(f"a page starts after an exact NAME@VERSION, not {str(ref)!r}")
            cursor = (ref.name, ref.version)
        self._recover_if_needed()
        if not self._index.exists():
            self.reindex()
        with index.connect(self._index) as db:
            rows = index.select(db, name=name, task=task, base=base, after=cursor, limit=limit)
        return [AdapterRecord(c.name, c.version, self._dir(c.name, c.version), c, aliases) for c, aliases in rows]

    def listed_names(self) -> list[str]:
        """The names :meth:`list` shows, sorted, from the index in one query (no card is read)."""
        if not self.root.is_dir():
            return []
        self._recover_if_needed()
        if not self._index.exists():
            self.reindex()
        with index.connect(self._index) as db:
            return index.names(db)

    def aliases(self, name: str) -> dict[str, int]:
        """Aliases of ``name`` and the versions they point to."""
        path = self.root / validate_name(name) / ALIASES_FILE
        if not path.exists():
            return {}
        try:
            return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
        except (ValueError, AttributeError) as exc:
            raise RegistryCorrupt(
                f"unreadable {path}: {exc}; fix or delete it, then run `hub registry reindex`"
            ) from exc

    def load(self, ref: str | Ref) -> LoadedAdapter:
        """Read a version's PEFT config and tensors after checking every file's sha256 against its card.

        Only safetensors are read; a missing, truncated or tampered file raises :class:`RegistryCorrupt`.
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
        safetensors files are kept too; pickle files are refused). The registry fills the card's name, version,
        file hashes, sizes, trainable parameter count and creation time.
        """
        validate_name(name)
        files = _source_files(Path(source))
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging.mkdir(exist_ok=True)
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
            with self._writing(name):
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
            shutil.rmtree(staging, ignore_errors=True)

    def tag(self, ref: str | Ref, alias: str) -> AdapterRecord:
        """Point ``name:alias`` at the version ``ref`` resolves to (moving it if it pointed elsewhere)."""
        validate_name(alias, "alias")
        record = self.get(ref)
        with self._writing(record.name):
            aliases = self.aliases(record.name)
            aliases[alias] = record.version
            atomic_write(self.root / record.name / ALIASES_FILE, json.dumps(aliases, indent=2, sort_keys=True) + "\n")
            self._sync_index(record.name)
        return self.get(Ref(record.name, version=record.version))

    def record_evaluation(self, ref: str | Ref, evaluation: dict[str, Any]) -> AdapterRecord:
        """Append ``evaluation`` (JSON-able) to the card's evaluation history; the version's files, and so its
        content hash, are untouched. The card is replaced atomically under the writer lock."""
        record = self.get(ref)
        with self._writing(record.name):
            card = self._card(record.name, record.version)  # re-read under the lock: no lost appends
            card = replace(card, evaluations=(*card.evaluations, evaluation))
            try:
                atomic_write(record.path / CARD_FILE, card.to_json())
            except OSError as exc:
                raise _disk_error(exc, f"recording an evaluation of {record.ref}") from exc
            self._sync_index(record.name)
        return self.get(Ref(record.name, version=record.version))

    def plan_removal(self, target: str, *, force: bool = False) -> RemovalPlan:
        """Plan removing ``name`` (every version), ``name@V`` or ``name:alias`` (the version it points to).

        Refuses with :class:`RegistryConflict` when an alias points to a planned version, unless ``force``
        (then the aliases go too).
        """
        ref = Ref.parse(target)
        if ref.version is None and ref.alias is None:
            if not self._versions(ref.name):
                self.get(ref)  # raises AdapterNotFound with what exists
            records = [self._record(ref.name, v) for v in self._versions(ref.name)]
        else:
            records = [self.get(ref)]
        aliases = tuple(f"{r.name}:{a}" for r in records for a in r.aliases)
        if aliases and not force:
            pinned = ", ".join(f"{a} -> {r.ref}" for r in records for a in (f"{r.name}:{x}" for x in r.aliases))
            raise RegistryConflict(
                f"refusing to remove what an alias points to ({pinned}); move the alias with "
                f"`hub tag {ref.name}@VERSION ALIAS` or pass --force to remove the alias too"
            )
        return RemovalPlan(versions=tuple(records), aliases=aliases)

    def remove(self, target: str, *, force: bool = False, dry_run: bool = False) -> RemovalPlan:
        """Remove what :meth:`plan_removal` plans; with ``dry_run`` only return the plan."""
        plan = self.plan_removal(target, force=force)
        if dry_run:
            return plan
        name = plan.versions[0].name
        with self._writing(name):
            self._trash.mkdir(exist_ok=True)
            doomed = {r.version for r in plan.versions}
            aliases = {a: v for a, v in self.aliases(name).items() if v not in doomed}
            atomic_write(self.root / name / ALIASES_FILE, json.dumps(aliases, indent=2, sort_keys=True) + "\n")
            for record in plan.versions:
                os.rename(record.path, self._trash / uuid.uuid4().hex)
            fsync_path(self.root / name)
            self._sync_index(name)
            self._empty_trash()
        return replace(plan, executed=True)

    def reindex(self) -> int:
        """Rebuild the index from the version directories; returns the number of versions indexed."""
        with exclusive(self._lock_path()):
            self._replay_journal()
            return self._rebuild_index()

    def verify(self) -> list[Problem]:
        """Check every file of every version against its card (sha256 and size) and the index against the
        directories. Returns the problems found; an empty list means the registry is intact."""
        self._recover_if_needed()
        problems: list[Problem] = []
        on_disk: dict[tuple[str, int], str] = {}
        damaged: set[tuple[str, int]] = set()
        for name in self.names():
            for version in self._versions(name):
                where = f"{name}@{version}"
                directory = self._dir(name, version)
                try:
                    card = self._card(name, version)
                except RegistryCorrupt as exc:
                    problems.append(Problem(where, CARD_FILE, str(exc)))
                    damaged.add((name, version))
                    continue
                on_disk[(name, version)] = card.to_json()
                problems += _check_files(where, directory, card)
        if self._index.exists():
            with index.connect(self._index) as db:
                rows = db.execute("SELECT name, version, card FROM versions").fetchall()
            indexed = {(n, v): _normalized(c) for n, v, c in rows if (n, v) not in damaged}
            if indexed != on_disk:
                problems.append(Problem("index", self._index.name, "out of date; run `hub registry reindex`"))
        return problems

    def export(self, ref: str | Ref, dest: str | os.PathLike[str]) -> AdapterRecord:
        """Write a verified copy of a version to ``dest`` as a plain PEFT directory (with its card)."""
        record = self.get(ref)
        try:
            with new_directory(Path(dest)) as tmp:
                for filename in record.card.files:
                    atomic_write(tmp / filename, self._read_verified(record, filename))
                shutil.copyfile(record.path / CARD_FILE, tmp / CARD_FILE)
        except OSError as exc:
            raise _disk_error(exc, f"exporting {record.ref}") from exc
        return record

    # ---------------------------------------------------------------- internals

    def _dir(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def _lock_path(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self._lock

    def _versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if is_version(p.name) and (p / CARD_FILE).is_file())

    def _resolve(self, ref: Ref) -> int:
        versions = self._versions(ref.name)
        if not versions:
            names = self.names()
            have = ", ".join(names[:20]) + (" …" if len(names) > 20 else "") if names else "none"
            raise AdapterNotFound(f"no adapter named {ref.name!r} in {self.root} (available: {have}); see `hub list`")
        if ref.alias is not None:
            aliases = self.aliases(ref.name)
            if ref.alias not in aliases:
                have = ", ".join(sorted(aliases)) or "none"
                raise AdapterNotFound(
                    f"{ref.name} has no alias {ref.alias!r} (aliases: {have}); "
                    f"set it with `hub tag {ref.name}@VERSION {ref.alias}`"
                )
            version = aliases[ref.alias]
            if version not in versions:
                raise AdapterNotFound(f"alias {ref} points to removed version {version}; move it with `hub tag`")
            return version
        if ref.version is None:
            return versions[-1]
        if ref.version not in versions:
            raise AdapterNotFound(
                f"{ref.name} has no version {ref.version} (versions: {_ranges(versions)}); "
                f"see `hub list --name {ref.name}`"
            )
        return ref.version

    def _card(self, name: str, version: int) -> Card:
        path = self._dir(name, version) / CARD_FILE
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise RegistryCorrupt(f"{name}@{version}: cannot read {CARD_FILE} ({exc})") from exc
        card = Card.from_json(text, f"{name}@{version}")
        if (card.name, card.version) != (name, version):
            raise RegistryCorrupt(
                f"{name}@{version}: its card says {card.name}@{card.version}; run `hub registry verify`"
            )
        return card

    def _record(self, name: str, version: int) -> AdapterRecord:
        aliases = tuple(sorted(a for a, v in self.aliases(name).items() if v == version))
        return AdapterRecord(name, version, self._dir(name, version), self._card(name, version), aliases)

    def _read_verified(self, record: AdapterRecord, filename: str) -> bytes:
        info = record.card.files.get(filename)
        if info is None:
            raise RegistryCorrupt(f"{record.ref}: its card lists no {filename}; run `hub registry verify`")
        try:
            data = (record.path / filename).read_bytes()
        except OSError as exc:
            raise RegistryCorrupt(f"{record.ref}: cannot read {filename} ({exc}); run `hub registry verify`") from exc
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise RegistryCorrupt(
                f"{record.ref}: {filename} does not match the sha256 in its card (corrupt or tampered); "
                f"refusing to load it. Run `hub registry verify`, then `hub rm {record.ref}` and publish it again"
            )
        return data

    def _next_version(self, name: str) -> int:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        counter = folder / LAST_VERSION_FILE
        try:
            last = int(counter.read_text())
        except (OSError, ValueError):
            last = max((int(p.name) for p in folder.iterdir() if is_version(p.name)), default=0)
        version = last + 1
        while self._dir(name, version).exists():  # a counter older than the directories: never reuse
            version += 1
        atomic_write(counter, f"{version}\n")
        return version

    @contextmanager
    def _writing(self, name: str) -> Iterator[None]:
        """Hold the writer lock, replay any crashed change, and journal the change to ``name``."""
        with exclusive(self._lock_path()):
            self._replay_journal()
            self._journal.mkdir(exist_ok=True)
            marker = self._journal / name
            atomic_write(marker, "changing\n")
            yield
            marker.unlink()

    def _recover_if_needed(self) -> None:
        try:
            pending = any(self._journal.iterdir())
        except FileNotFoundError:
            return
        if pending:
            with exclusive(self._lock_path()):
                self._replay_journal()

    def _replay_journal(self) -> None:
        """Bring the index in line with the directories for every change a crash interrupted. Lock held."""
        if self._journal.is_dir():
            for marker in self._journal.iterdir():
                if marker.name.endswith(".tmp"):
                    marker.unlink()
                    continue
                self._sync_index(marker.name)
                marker.unlink()
        self._empty_trash()
        self._clean_staging()

    def _sync_index(self, name: str) -> None:
        if not self._index.exists():
            self._rebuild_index()
            return
        cards = [self._card(name, v) for v in self._versions(name)]
        with index.connect(self._index) as db:
            index.replace_name(db, name, cards, self.aliases(name))

    def _index_new(self, card: Card) -> None:
        if not self._index.exists():
            self._rebuild_index()
            return
        with index.connect(self._index) as db:
            index.add(db, card)

    def _rebuild_index(self) -> int:
        contents = [(n, [self._card(n, v) for v in self._versions(n)], self.aliases(n)) for n in self.names()]
        index.rebuild(self._index, contents)
        return sum(len(cards) for _, cards, _ in contents)

    def _empty_trash(self) -> None:
        if self._trash.is_dir():
            for entry in self._trash.iterdir():
                shutil.rmtree(entry, ignore_errors=True)

    def _clean_staging(self) -> None:
        """Remove staging directories left by dead publishers of this host (their name holds host and pid)."""
        if not self._staging.is_dir():
            return
        for entry in self._staging.iterdir():
            host, _, rest = entry.name.partition("-")
            pid = rest.partition("-")[0]
            if host == _HOST and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


def _normalized(card_json: str) -> str | None:
    """An indexed card as the current format writes it (older formats are migrated when read)."""
    try:
        return Card.from_json(card_json).to_json()
    except RegistryCorrupt:
        return None


def _source_files(source: Path) -> list[Path]:
    if not source.is_dir():
        raise ConfigError(f"{source} is not a directory; give the folder that PEFT's save_pretrained wrote")
    entries = sorted(source.iterdir())
    problems = []
    missing = [f for f in REQUIRED_FILES if not (source / f).is_file()]
    if missing:
        found = ", ".join(p.name for p in entries) or "nothing"
        hint = " (convert .bin weights to safetensors first)" if (source / "adapter_model.bin").exists() else ""
        problems.append(f"{source} lacks {', '.join(missing)}{hint}; it holds {found}")
    pickles = [p.name for p in entries if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        problems.append(f"refusing pickle files {pickles}: adapterhub stores safetensors only")
    folders = [p.name for p in entries if p.is_dir()]
    if folders:
        problems.append(f"unexpected sub-folders {folders}: save the adapter under the name 'default'")
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        config = json.loads((source / CONFIG_FILE).read_text())
        if not isinstance(config, dict) or "peft_type" not in config:
            raise ValueError("no peft_type")
    except ValueError as exc:
        raise ConfigError(f"{source / CONFIG_FILE} is not a PEFT adapter config ({exc})") from exc
    safetensors_header(source / WEIGHTS_FILE)
    return [p for p in entries if p.is_file() and p.name != CARD_FILE and not p.name.startswith(".")]


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


def _check_files(where: str, directory: Path, card: Card) -> list[Problem]:
    problems = []
    for filename in REQUIRED_FILES:
        if filename not in card.files:
            problems.append(Problem(where, filename, "missing from the card"))
    for filename, info in sorted(card.files.items()):
        path = directory / filename
        if not path.is_file():
            problems.append(Problem(where, filename, "missing"))
        elif path.stat().st_size != info.bytes:
            problems.append(Problem(where, filename, f"size {path.stat().st_size} bytes, card says {info.bytes}"))
        elif sha256_file(path) != info.sha256:
            problems.append(Problem(where, filename, "sha256 does not match the card (corrupt or tampered)"))
    for path in sorted(directory.iterdir()):
        if path.name != CARD_FILE and path.name not in card.files:
            problems.append(Problem(where, path.name, "not listed in the card"))
    return problems


def _disk_error(exc: OSError, doing: str) -> AdapterHubError:
    if exc.errno == errno.ENOSPC:
        return AdapterHubError(
            f"no space left on device while {doing}; the registry is unchanged. Free space and retry"
        )
    return AdapterHubError(f"{doing} failed: {exc.strerror or exc} ({exc.filename}); the registry is unchanged")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ranges(versions: list[int]) -> str:
    if len(versions) <= 12:
        return ", ".join(map(str, versions))
    return f"{versions[0]}…{versions[-1]} ({len(versions)} in all)"
