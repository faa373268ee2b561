"""What a remote registry holds, and how it is laid out in its store.

Layout (keys under the remote's URL)::

    blobs/<sha256>               every file, stored once by the sha256 of its bytes (names share storage)
    cards/<name>/<version>.json  a version: its card.json as the local registry wrote it, listing every file's
                                 sha256 and size; created only if absent (never overwritten)
    aliases/<name>/<alias>       {"version": N}: one object per alias, so moving one never loses another

A version exists on a remote exactly when its card object does. Pushes upload the blobs first and the card
last, so a card never names a blob that is not there (unless someone deletes blobs by hand, which a pull
refuses, naming the file).

Nothing read here is trusted: every card passes :func:`~adapterhub.remote.trust.check_card` before it is used,
and every object is read with a bound on its size.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from adapterhub.cards.card import Card
from adapterhub.cards.records import AdapterRecord, Problem
from adapterhub.errors import AdapterNotFound, RegistryConflict, RegistryCorrupt
from adapterhub.names import MAX_VERSION, Ref, is_valid_name, is_version, validate_name
from adapterhub.remote.config import Remote
from adapterhub.remote.store import MAX_OBJECT_BYTES, Oversized, Store
from adapterhub.remote.trust import card_too_large, check_card

MAX_ALIAS_BYTES = 4096  # {"version": N} and a newline


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256}"


def card_key(name: str, version: int) -> str:
    return f"cards/{name}/{version}.json"


def alias_key(name: str, alias: str) -> str:
    return f"aliases/{name}/{alias}"


class RemoteRegistry:
    """The adapters a remote holds: read its names, versions, cards and aliases; set aliases.

    Args:
        remote: The remote (its name appears in messages).
        store: The store to use; by default the remote's own.
    """

    def __init__(self, remote: Remote, store: Store | None = None) -> None:
        self.remote = remote
        self.store = store or remote.store()

    def names(self) -> list[str]:
        """Names with at least one version (or whose versions cannot be listed: see :meth:`listing`), sorted."""
        out = []
        for name in self.store.children("cards"):
            if not is_valid_name(name):
                continue
            try:
                if self.versions(name):
                    out.append(name)
            except RegistryCorrupt:
                out.append(name)
        return out

    def versions(self, name: str) -> list[int]:
        """Versions of ``name`` on the remote, oldest first."""
        validate_name(name)
        found = []
        for entry in self.store.children(f"cards/{name}"):
            stem = entry.removesuffix(".json")
            if entry.endswith(".json") and is_version(stem):
                found.append(int(stem))
        return sorted(found)

    def card_bytes(self, name: str, version: int) -> bytes | None:
        """The card object of ``name@version`` as stored (unchecked), or None when the remote does not hold that
        version; :class:`RegistryCorrupt` when it is larger than any card."""
        try:
            return self.store.read(card_key(name, version), limit=MAX_OBJECT_BYTES)
        except Oversized:
            raise card_too_large(name, version, self.remote.name, MAX_OBJECT_BYTES) from None

    def card(self, name: str, version: int) -> Card:
        """The card of ``name@version`` once it passes :func:`~adapterhub.remote.trust.check_card`;
        :class:`RegistryCorrupt` naming what is wrong with it otherwise."""
        return self.checked_card(name, version)[0]

    def checked_card(self, name: str, version: int) -> tuple[Card, bytes]:
        """The checked card of ``name@version`` and its bytes as stored (what a pull writes as card.json)."""
        data = self.card_bytes(name, version)
        if data is None:
            raise AdapterNotFound(f"remote {self.remote.name} has no {name}@{version}")
        return check_card(data, name, version, self.remote.name), data

    def aliases(self, name: str) -> dict[str, int]:
        """Aliases of ``name`` on the remote and the versions they point to."""
        validate_name(name)
        out = {}
        for alias in self.store.children(f"aliases/{name}"):
            if not is_valid_name(alias):
                continue
            version = self.alias(name, alias)
            if version is not None:  # None: removed while listing
                out[alias] = version
        return out

    def alias(self, name: str, alias: str) -> int | None:
        """The version ``name:alias`` points to on the remote (one read), None when the remote has no such alias."""
        try:
            data = self.store.read(alias_key(name, alias), limit=MAX_ALIAS_BYTES)
            if data is None:
                return None
            version = json.loads(data)["version"]
            if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
                raise ValueError(f"version {str(version)[:40]!r} is not 1 to {MAX_VERSION}")
            return version
        except (ValueError, KeyError, TypeError, Oversized) as exc:
            reason = " ".join(str(exc).split())[:120]
            raise RegistryCorrupt(
                f"remote {self.remote.name}: unreadable alias {name}:{alias} ({reason}); set it again with "
                f"`hub tag {name}@VERSION {alias} --remote {self.remote.name}`"
            ) from None

    def resolve(self, ref: str | Ref) -> tuple[str, int]:
        """``(name, version)`` that ``name``, ``name@V`` or ``name:ALIAS`` means on the remote."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        versions = self.versions(ref.name)
        if not versions:
            names = self.names()
            close = difflib.get_close_matches(ref.name, names, n=3, cutoff=0.6)
            hint = f": did you mean {' or '.join(close)}?" if close else ""
            have = ", ".join(names[:20]) or "none"
            raise AdapterNotFound(
                f"remote {self.remote.name} holds no adapter named {ref.name!r}{hint} (it holds: {have}; see "
                f"`hub list --remote {self.remote.name}`)"
            )
        if ref.alias is not None:
            aliases = self.aliases(ref.name)
            if ref.alias not in aliases:
                have = ", ".join(sorted(aliases)) or "none"
                raise AdapterNotFound(
                    f"remote {self.remote.name}: {ref.name} has no alias {ref.alias!r} (aliases: {have})"
                )
            version = aliases[ref.alias]
            if version not in versions:
                raise AdapterNotFound(f"remote {self.remote.name}: alias {ref} points to {ref.name}@{version}, absent")
            return ref.name, version
        if ref.version is None:
            return ref.name, versions[-1]
        if ref.version not in versions:
            raise AdapterNotFound(
                f"remote {self.remote.name} has no {ref.name}@{ref.version} (versions: {', '.join(map(str, versions))})"
            )
        return ref.name, ref.version

    def list(self, name: str | None = None) -> list[AdapterRecord]:
        """Every version on the remote (or of ``name``), by name, newest version first, as `hub list` shows;
        :class:`RegistryCorrupt` for the first one that is refused (:meth:`listing` lists the rest)."""
        records, broken = self.listing(name)
        if broken:
            raise RegistryCorrupt(broken[0].problem)
        return records

    def listing(self, name: str | None = None) -> tuple[list[AdapterRecord], list[Problem]]:
        """Every version on the remote (or of ``name``) whose card passes the checks, as :meth:`list` orders
        them, and a :class:`Problem` for each one refused (its ``where`` the reference, NAME@VERSION, or NAME
        when its versions cannot be listed): one damaged or hostile card hides no other version."""
        names = [validate_name(name)] if name is not None else self.names()
        if name is not None:
            self.resolve(Ref(name))  # an unknown name is refused with the names the remote holds
        records: list[AdapterRecord] = []
        broken: list[Problem] = []
        for n in names:
            try:
                versions = self.versions(n)
            except RegistryCorrupt as exc:
                broken.append(Problem(n, "", str(exc)))
                continue
            try:
                aliases = self.aliases(n)
            except RegistryCorrupt as exc:  # the versions list without it
                broken.append(Problem(n, "aliases", str(exc)))
                aliases = {}
            for version in reversed(versions):
                try:
                    card = self.card(n, version)
                except AdapterNotFound:  # removed while listing
                    continue
                except RegistryCorrupt as exc:
                    broken.append(Problem(f"{n}@{version}", "card.json", str(exc)))
                    continue
                tags = tuple(sorted(a for a, v in aliases.items() if v == version))
                records.append(AdapterRecord(n, version, Path(card_key(n, version)), card, tags))
        return records, broken

    def tag(self, ref: str | Ref, alias: str) -> tuple[AdapterRecord, int | None]:
        """Point ``name:alias`` on the remote at the version ``ref`` resolves to there; returns the record and the
        version the alias pointed to before (None when new)."""
        validate_name(alias, "alias")
        name, version = self.resolve(ref)
        before = self.aliases(name).get(alias)
        self.store.clean_temporaries(f"aliases/{name}")  # what a tagger killed mid-write left in a folder remote
        self.store.put(alias_key(name, alias), json.dumps({"version": version}).encode() + b"\n")
        aliases = tuple(sorted(a for a, v in self.aliases(name).items() if v == version))
        return AdapterRecord(name, version, Path(card_key(name, version)), self.card(name, version), aliases), before


def same_files(a: Card, b: Card) -> bool:
    """True when two cards describe the same files, byte for byte (evaluations recorded later may differ)."""
    return {n: i.sha256 for n, i in a.files.items()} == {n: i.sha256 for n, i in b.files.items()}


def conflict(ref: str, remote: str, direction: str) -> RegistryConflict:
    """The refusal when ``ref`` exists on both sides with other files."""
    return RegistryConflict(
        f"refusing to {direction} {ref}: remote {remote} and the local registry each hold a {ref} with other files "
        "(published separately); versions are never overwritten or renumbered. Publish the adapter again locally "
        "to give it a new version, then push that"
    )
