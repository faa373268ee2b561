"""Pulling versions from a remote into the local registry, verified, under their own version numbers.

The card is checked first (:func:`~adapterhub.remote.trust.check_card`, and its base against this machine),
before anything is read or written. Every file is then streamed into the registry's staging area, never more
than the card's size of it (an object larger than that is refused before it is read), its sha256 taken as it
arrives; the card is checked against its files and the base as publishing checks it; only then does the
version appear, through the registry's atomic :meth:`~adapterhub.registry.Registry.adopt`. A flipped byte, a
truncated, oversized or missing object, or a card that does not match its files is refused with one line
naming the file, and the local registry is unchanged. The remote's aliases of a pulled version are set
locally too.

A pull resumes: each file, once downloaded and verified, is also kept in the registry's download cache
(:meth:`~adapterhub.registry.Registry.download_cache`, by sha256) until its version is adopted, so pulling again
after an interrupt (Ctrl-C, a lost connection) downloads only the files that were not finished. A cached file
is used only after its sha256 is checked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from adapterhub.cards.card import CARD_FILE, Card, FileInfo
from adapterhub.errors import AdapterHubError, AdapterNotFound, ConfigError, IncompatibleAdapter, RegistryCorrupt
from adapterhub.names import Ref
from adapterhub.registry import Registry
from adapterhub.registry.files import CHUNK
from adapterhub.registry.paths import remove_entry
from adapterhub.remote.catalog import RemoteRegistry, blob_key, conflict, same_files
from adapterhub.remote.store import Oversized, Store
from adapterhub.remote.trust import base_problem

Report = Callable[[str, int, int], None]  # (ref, files done, files in all)


@dataclass(frozen=True)
class PullResult:
    """What pulling one version did: ``pulled`` (new locally) or ``present``; the aliases set locally."""

    ref: str
    status: str
    downloaded_bytes: int
    aliases: tuple[str, ...]


def pull(
    registry: Registry,
    remote: RemoteRegistry,
    refs: Sequence[str] = (),
    *,
    all_versions: bool = False,
    report: Report | None = None,
) -> list[PullResult]:
    """Pull the remote versions ``refs`` name (``NAME`` is the remote's latest), or every one with
    ``all_versions``; see the module."""
    if all_versions and refs:
        raise ConfigError("give references or --all, not both")
    if not all_versions and not refs:
        raise ConfigError("nothing to pull: name NAME, NAME@VERSION or NAME:ALIAS, or pass --all")
    remote.store.check()
    if all_versions:
        targets = [(n, v) for n in remote.names() for v in remote.versions(n)]
    else:
        targets = list(dict.fromkeys(remote.resolve(Ref.parse(r)) for r in refs))
    return [pull_version(registry, remote, name, version, report) for name, version in targets]


def pull_version(
    registry: Registry, remote: RemoteRegistry, name: str, version: int, report: Report | None = None
) -> PullResult:
    """Pull ``name@version`` from ``remote``; :class:`RegistryConflict` when the local registry holds that
    number with other files, :class:`RegistryCorrupt` naming what does not match (the card, a file),
    :class:`IncompatibleAdapter` for a base this machine lacks or knows with other weights."""
    ref = f"{name}@{version}"
    where = remote.remote.name
    try:
        card, data = remote.checked_card(name, version)  # before anything is read or written
    except AdapterNotFound:
        raise AdapterHubError(f"remote {where} has no {ref} (removed meanwhile?)") from None
    store = remote.store
    before = store.transfer.downloaded_bytes
    if registry.exists() and version in registry.versions(name):
        if not same_files(registry.get(Ref(name, version=version)).card, card):
            raise conflict(ref, where, "pull")
        status = "present"
    else:
        problem = base_problem(card, registry)
        if problem is not None:
            raise IncompatibleAdapter(f"refusing to pull {ref} from {where}: {problem}; nothing was pulled")
        _fetch(registry, store, card, data, ref, where, report)
        status = "pulled"
    aliases = []
    local = registry.aliases(name)
    for alias, target in sorted(remote.aliases(name).items()):
        if target == version:
            if local.get(alias) != version:
                registry.tag(Ref(name, version=version), alias)
            aliases.append(f"{name}:{alias}")
    return PullResult(ref, status, store.transfer.downloaded_bytes - before, tuple(aliases))


def _fetch(
    registry: Registry, store: Store, card: Card, data: bytes, ref: str, where: str, report: Report | None
) -> None:
    """Download the files of a checked ``card`` into staging, verified as they arrive, and adopt the version.

    Each verified file is kept in the download cache at once (so an interrupt, even a kill, loses no finished
    file); when the version is refused instead, what this pull kept is removed again, so a refused pull leaves
    the registry as it found it."""
    cache = registry.download_cache(create=False)
    existed = cache.is_dir()
    kept: list[Path] = []
    try:
        with registry.staging_folder() as folder:
            files = sorted(card.files.items())
            for done, (filename, info) in enumerate(files):
                cached = _cached(cache, info)
                if cached is None:
                    tmp = folder / f".{info.sha256}.download"
                    _download(store, tmp, filename, info, ref, where)
                    cached = _keep(registry, tmp, info.sha256)
                    kept.append(cached)
                _place(cached, folder / filename)
                if report is not None:
                    report(ref, done + 1, len(files))
            (folder / CARD_FILE).write_bytes(data)
            try:
                registry.adopt(folder)
            except RegistryCorrupt as exc:
                raise RegistryCorrupt(f"refusing to pull {ref} from {where}: {exc}") from None
    except (RegistryCorrupt, IncompatibleAdapter):
        for path in kept:  # the remote's version is refused: keep nothing of it
            remove_entry(path)
        if not existed:
            with contextlib.suppress(OSError):  # another pull may be using it by now
                cache.rmdir()
        raise
    for info in card.files.values():
        remove_entry(cache / info.sha256)


def _download(store: Store, dest: Path, filename: str, info: FileInfo, ref: str, where: str) -> None:
    """The blob of ``info`` from the remote into ``dest``, streamed, never more than the card's size, its sha256
    taken as it arrives; :class:`RegistryCorrupt` naming the file when it is not what the card says."""
    digest = hashlib.sha256()
    problem = None
    with open(dest, "xb") as fh:
        try:
            size = store.copy_to(blob_key(info.sha256), _Hashing(fh, digest), limit=info.bytes)
        except RegistryCorrupt as exc:  # a symlink in a folder remote
            raise RegistryCorrupt(f"refusing to pull {ref} from {where}: {filename}: {exc}") from None
        except Oversized as exc:
            found = f"{exc.size} bytes" if exc.size is not None else f"more than {info.bytes} bytes"
            problem = f"{found} on the remote, the card says {info.bytes} (refused before it was read)"
        else:
            if size is None:
                problem = f"{blob_key(info.sha256)} is missing on the remote"
            elif size != info.bytes:
                problem = f"{size} bytes on the remote, the card says {info.bytes} (truncated or altered)"
            elif digest.hexdigest() != info.sha256:
                problem = "its sha256 on the remote does not match the card (corrupt or tampered)"
            else:
                fh.flush()
                os.fsync(fh.fileno())
    if problem is not None:
        raise RegistryCorrupt(
            f"refusing to pull {ref} from {where}: {filename}: {problem}; the local registry is unchanged"
        )


class _Hashing(io.RawIOBase):
    """Writes to ``out`` and feeds ``digest`` the same bytes."""

    def __init__(self, out: BinaryIO, digest: Any) -> None:
        self.out, self.digest = out, digest

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        self.digest.update(chunk)
        return self.out.write(chunk)


def _cached(cache: Path, info: FileInfo) -> Path | None:
    """The file an earlier, interrupted pull downloaded and verified, when it still has the size and sha256 of
    ``info``; anything else there (damaged, not a plain file) is removed and downloaded again. ``info.sha256`` is
    a checked digest, so the path stays in the cache."""
    path = cache / info.sha256
    try:
        mode = os.lstat(path)
    except OSError:  # gone, or no cache: download it (the new copy replaces anything here)
        return None
    if not stat.S_ISREG(mode.st_mode) or mode.st_size != info.bytes:
        remove_entry(path)
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb", opener=_no_follow) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    if digest.hexdigest() != info.sha256:
        remove_entry(path)
        return None
    return path


def _keep(registry: Registry, tmp: Path, sha256: str) -> Path:
    """Move a verified download into the cache, whole (a rename), creating the cache as needed."""
    cached = registry.download_cache() / sha256
    try:
        os.replace(tmp, cached)
    except FileNotFoundError:  # a refused pull in another process removed the cache, empty, meanwhile
        os.replace(tmp, registry.download_cache() / sha256)
    return cached


def _place(cached: Path, dest: Path) -> None:
    """Put a verified file of the download cache into the staging folder: a hard link (no copy of the bytes),
    or a copy where the file system has none."""
    try:
        os.link(cached, dest, follow_symlinks=False)
    except OSError:
        shutil.copyfile(cached, dest, follow_symlinks=False)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
