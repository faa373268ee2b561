"""Pulling versions from a remote into the local registry, verified, under their own version numbers.

Every file is downloaded into the registry's staging area and checked against the card while it arrives (size
and sha256); the card is checked against its files and the base as publishing checks it; only then does the
version appear, through the registry's atomic :meth:`~adapterhub.registry.Registry.adopt`. A flipped byte, a
truncated or missing object, or a card that does not match its files is refused with one line naming the file,
and the local registry is unchanged. The remote's aliases of a pulled version are set locally too.

A pull resumes: each file, once downloaded and verified, is also kept in the registry's download cache
(:meth:`~adapterhub.registry.Registry.download_cache`, by sha256) until its version is adopted, so pulling again
after an interrupt (Ctrl-C, a lost connection) downloads only the files that were not finished. A cached file
is used only after its sha256 is checked again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapterhub.errors import AdapterHubError, ConfigError, RegistryCorrupt
from adapterhub.names import Ref
from adapterhub.registry import Registry
from adapterhub.registry.card import CARD_FILE
from adapterhub.registry.paths import remove_entry
from adapterhub.remote.catalog import RemoteRegistry, blob_key, conflict, parse_card, same_files
from adapterhub.remote.store import Store

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
    number with other files, :class:`RegistryCorrupt` naming the file that does not match."""
    ref = f"{name}@{version}"
    where = remote.remote.name
    data = remote.card_bytes(name, version)
    if data is None:
        raise AdapterHubError(f"remote {where} has no {ref} (removed meanwhile?)")
    card = parse_card(data, name, version, where)
    store = remote.store
    before = store.transfer.downloaded_bytes
    if registry.exists() and version in registry.versions(name):
        if not same_files(registry.get(Ref(name, version=version)).card, card):
            raise conflict(ref, where, "pull")
        status = "present"
    else:
        cache = registry.download_cache()
        with registry.staging_folder() as folder:
            files = sorted(card.files.items())
            for done, (filename, info) in enumerate(files):
                blob = _cached(cache, info.sha256, info.bytes)
                if blob is None:
                    blob = _download(store, ref, where, filename, info.sha256, info.bytes)
                    _keep(cache, folder, info.sha256, blob)
                (folder / filename).write_bytes(blob)
                if report is not None:
                    report(ref, done + 1, len(files))
            (folder / CARD_FILE).write_bytes(data)
            try:
                registry.adopt(folder)
            except RegistryCorrupt as exc:
                raise RegistryCorrupt(f"refusing to pull {ref} from {where}: {exc}") from None
        for info in card.files.values():
            remove_entry(cache / info.sha256)
        status = "pulled"
    aliases = []
    local = registry.aliases(name)
    for alias, target in sorted(remote.aliases(name).items()):
        if target == version:
            if local.get(alias) != version:
                registry.tag(Ref(name, version=version), alias)
            aliases.append(f"{name}:{alias}")
    return PullResult(ref, status, store.transfer.downloaded_bytes - before, tuple(aliases))


def _download(store: Store, ref: str, where: str, filename: str, sha256: str, size: int) -> bytes:
    """The blob ``sha256`` from the remote, checked against the card; :class:`RegistryCorrupt` naming the file."""
    blob = store.read(blob_key(sha256))
    problem = None
    if blob is None:
        problem = f"{blob_key(sha256)} is missing on the remote"
    elif len(blob) != size:
        problem = f"{len(blob)} bytes on the remote, the card says {size} (truncated or altered)"
    elif hashlib.sha256(blob).hexdigest() != sha256:
        problem = "its sha256 on the remote does not match the card (corrupt or tampered)"
    if problem is not None:
        raise RegistryCorrupt(
            f"refusing to pull {ref} from {where}: {filename}: {problem}; the local registry is unchanged"
        )
    return blob


def _cached(cache: Path, sha256: str, size: int) -> bytes | None:
    """The bytes an earlier, interrupted pull downloaded and verified, when they still hash to ``sha256``;
    anything else there (damaged, not a plain file) is removed and downloaded again."""
    path = cache / sha256
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            remove_entry(path)
            return None
        with open(path, "rb", opener=_no_follow) as fh:
            blob = fh.read()
    except OSError:  # gone, or unreadable: download it again (the new copy replaces this one)
        return None
    if len(blob) != size or hashlib.sha256(blob).hexdigest() != sha256:
        remove_entry(path)
        return None
    return blob


def _keep(cache: Path, staging: Path, sha256: str, blob: bytes) -> None:
    """Put a verified blob in the download cache, whole or not at all (written in this pull's staging folder,
    which is removed however the pull ends, then renamed), so that a rerun after an interrupt need not
    download it again."""
    tmp = staging / f".{sha256}.download"
    tmp.write_bytes(blob)
    os.replace(tmp, cache / sha256)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
