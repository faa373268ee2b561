"""One registry's folders, and reading what they hold: names, versions, cards, aliases and verified files.

A :class:`Store` knows where everything of a registry lives and reads it without ever following a symlink (see
:mod:`adapterhub.registry.paths`). It writes only ``aliases.json``, and only for callers that hold the writer
lock. Recovering from a crash (:mod:`adapterhub.registry.recovery`) and keeping the index in line
(:mod:`adapterhub.registry.indexing`) sit on top of it; :class:`~adapterhub.registry.registry.Registry` is the
face that composes them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import socket
import uuid
from pathlib import Path

from adapterhub.cards.card import CARD_FILE, Card
from adapterhub.cards.records import AdapterRecord
from adapterhub.errors import AdapterNotFound, ConfigError, RegistryCorrupt, RegistryNotFound
from adapterhub.names import Ref, is_valid_name, is_version
from adapterhub.registry import index
from adapterhub.registry.aliases import Split, Target, decode, encode, versions_of
from adapterhub.registry.files import atomic_write
from adapterhub.registry.paths import refuse_link

ALIASES_FILE = "aliases.json"
# staging folders are named HOST-PID-RANDOM, so the next writer on this host can tell a dead publisher's
HOST = socket.gethostname().replace("-", "_")


class Store:
    """The folders of the registry at ``root`` and the reads every operation shares.

    Attributes:
        root: The registry folder.
        index: ``.index.sqlite``, the listing cache.
        lock: ``.lock``, the cross-process writer lock.
        journal: ``.journal``, one marker per name being changed.
        staging: ``.staging``, where new versions are assembled.
        trash: ``.trash``, where removed versions wait to be deleted.
        downloads: ``.downloads``, files a pull verified, kept until their version is adopted.
        logs: ``.logs``, where ``hub serve --log-predictions`` writes its log.
        tune: ``.tune``, where ``hub tune`` keeps its studies.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.index = root / ".index.sqlite"
        self.lock = root / ".lock"
        self.journal = root / ".journal"
        self.staging = root / ".staging"
        self.trash = root / ".trash"
        self.downloads = root / ".downloads"
        self.logs = root / ".logs"
        self.tune = root / ".tune"

    def require(self) -> None:
        """Raise :class:`RegistryNotFound` unless ``root`` is a directory: reading never creates a registry."""
        if not self.root.is_dir():
            what = "is not a directory" if self.root.exists() else "does not exist"
            raise RegistryNotFound(
                f"no registry at {self.root} (the path {what}); `hub train` or `hub import` creates one there, "
                "or point --registry (or ADAPTERHUB_REGISTRY) at an existing registry"
            )

    def dir(self, name: str, version: int) -> Path:
        """The folder of ``name@version``."""
        return self.root / name / str(version)

    def index_path(self) -> Path:
        """The index file, refused when it is a symlink (sqlite would write through it)."""
        refuse_link(self.index)
        return self.index

    def staging_name(self) -> str:
        """A fresh staging folder's name: this host and process (see :data:`HOST`), then a random part."""
        return f"{HOST}-{os.getpid()}-{uuid.uuid4().hex}"

    # ------------------------------------------------------------------------------------------ names, versions

    def names(self) -> list[str]:
        """Names that have at least one version directory, sorted."""
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and p.is_dir() and is_valid_name(p.name) and self.versions(p.name)
        )

    def name_folders(self) -> list[str]:
        """Every entry of the root that can be a name (symlinks included, so that verify reports them)."""
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and is_valid_name(p.name))

    def versions(self, name: str) -> list[int]:
        """The versions of ``name`` that hold a card, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if is_version(p.name) and (p / CARD_FILE).is_file())

    def indexed_names(self) -> list[str]:
        """Names from the index (no card is read), or from the folders when there is no index yet."""
        path = self.index_path()
        if path.exists():
            try:
                with index.connect(path) as db:
                    return index.names(db)
            except index.IndexDamaged:
                pass  # the folders say the same, only slower
        return self.names()

    def unknown_name(self, name: str) -> AdapterNotFound:
        """The error for a ``name`` with no version, naming the closest names the index holds."""
        names = self.indexed_names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f": did you mean {' or '.join(close)}?" if close else ""
        have = (", ".join(names[:20]) + (" …" if len(names) > 20 else "")) if names else "none"
        return AdapterNotFound(f"no adapter named {name!r} in {self.root}{hint} (available: {have}; see `hub list`)")

    # ------------------------------------------------------------------------------------------------- aliases

    def aliases(self, name: str) -> dict[str, Target]:
        """The aliases of ``name`` as ``aliases.json`` holds them (empty when it has none)."""
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

    def write_aliases(self, name: str, aliases: dict[str, Target]) -> None:
        """Replace ``aliases.json`` of ``name`` (lock held): plain aliases as their version, as always."""
        document = {alias: encode(target) for alias, target in aliases.items()}
        atomic_write(self.root / name / ALIASES_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n")

    def alias_target(self, ref: Ref) -> Target:
        """What ``ref`` (NAME:ALIAS) points to; :class:`AdapterNotFound` naming the closest aliases if none."""
        assert ref.alias is not None
        if not self.versions(ref.name):
            raise self.unknown_name(ref.name)
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

    def resolve(self, ref: Ref, *, key: str | None = None, pick: bool = False) -> int:
        """The version ``ref`` means. A weighted alias picks one of its versions when ``pick`` (by ``key``, else
        at random); otherwise it raises :class:`ConfigError`, for the callers that must name one version."""
        versions = self.versions(ref.name)
        if not versions:
            raise self.unknown_name(ref.name)
        if ref.alias is not None:
            target = self.alias_target(ref)
            if isinstance(target, Split):
                if not pick:
                    raise ConfigError(
                        f"{ref} splits traffic between {split_refs(ref.name, target)}; name one version "
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
                f"{ref.name} has no version {ref.version} (versions: {ranges(versions)}); see `hub list {ref.name}`"
            )
        return ref.version

    # -------------------------------------------------------------------------------------------- one version

    def card(self, name: str, version: int) -> Card:
        """The card of ``name@version``; :class:`RegistryCorrupt` when it cannot be read or names another."""
        folder = self.dir(name, version)
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

    def record(self, name: str, version: int) -> AdapterRecord:
        """The record of ``name@version``: its card and the aliases that point to it."""
        card = self.card(name, version)
        targets = self.aliases(name)
        aliases = tuple(sorted(a for a, t in targets.items() if version in versions_of(t)))
        weights = tuple(
            (a, t.weight(version)) for a, t in sorted(targets.items()) if isinstance(t, Split) and a in aliases
        )
        return AdapterRecord(name, version, self.dir(name, version), card, aliases, weights)

    def read_verified(self, record: AdapterRecord, filename: str) -> bytes:
        """The bytes of one file of ``record``, refused with :class:`RegistryCorrupt` unless they match the
        sha256 its card lists."""
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


def split_refs(name: str, split: Split) -> str:
    """The versions of a split with their weights, for messages: ``x@1 (0.9) and x@2 (0.1)``."""
    return " and ".join(f"{name}@{v} ({w:g})" for v, w in split.weights)


def ranges(versions: list[int]) -> str:
    """``versions`` for messages, shortened to first…last when there are many."""
    if len(versions) <= 12:
        return ", ".join(map(str, versions))
    return f"{versions[0]}…{versions[-1]} ({len(versions)} in all)"
