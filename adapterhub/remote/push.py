"""Pushing local versions to a remote: content-addressed, never overwriting, safe with concurrent pushers.

Each file goes to ``blobs/<sha256>`` unless an object of that size is there already (pushed before, by this
version or another that shares the file, or by an interrupted push), so pushing the same bytes twice uploads
nothing and a push that was interrupted resumes where it stopped. The card goes last, as a create-if-absent
write (S3 ``If-None-Match: *``): the version appears on the remote complete, and under the number it has
locally. When the remote holds that number with other files (another registry published its own), the push is
refused and nothing is overwritten or renumbered; two pushers of different versions of one name never touch
the same object, so both succeed. On a folder remote, the temporary files of pushers that died mid-write are
removed by the next push to the same folder (a live pusher's are left alone).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapterhub.cards.card import CARD_FILE
from adapterhub.errors import ConfigError, RegistryCorrupt
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.registry.validation import version_file_problems
from adapterhub.remote.catalog import RemoteRegistry, blob_key, card_key, conflict, same_files
from adapterhub.remote.trust import check_card

Report = Callable[[str, int, int], None]  # (ref, files done, files in all)


@dataclass(frozen=True)
class PushResult:
    """What pushing one version did: ``pushed`` (new on the remote) or ``present`` (held already)."""

    ref: str
    status: str
    uploaded_bytes: int
    uploaded_files: int
    skipped_files: int


def local_versions(registry: Registry, refs: Sequence[str], all_versions: bool) -> list[AdapterRecord]:
    """The local versions ``refs`` name (``NAME`` is the latest), or every one with ``all_versions``."""
    if all_versions and refs:
        raise ConfigError("give references or --all, not both")
    if not all_versions and not refs:
        raise ConfigError("nothing to push: name NAME, NAME@VERSION or NAME:ALIAS, or pass --all")
    if all_versions:
        return [registry.get(Ref(n, version=v)) for n in registry.names() for v in registry.versions(n)]
    records = {}
    for ref in refs:
        record = registry.get(ref)
        records[record.ref] = record
    return list(records.values())


def push(
    registry: Registry,
    remote: RemoteRegistry,
    refs: Sequence[str] = (),
    *,
    all_versions: bool = False,
    report: Report | None = None,
) -> list[PushResult]:
    """Push the local versions ``refs`` name (or every one) to ``remote``, in order; see the module."""
    records = local_versions(registry, refs, all_versions)
    for record in records:  # what a pull would refuse is not sent
        problems = version_file_problems(record.card.method, record.card.files)
        if problems:
            raise ConfigError(
                f"refusing to push {record.ref}: {'; '.join(problems)}, and a pull refuses any other; publish it "
                "again from a folder without them. Nothing was pushed"
            )
    remote.store.check()
    remote.store.clean_temporaries("blobs")  # what pushers killed mid-write left in a folder remote
    return [push_version(record, remote, report) for record in records]


def push_version(record: AdapterRecord, remote: RemoteRegistry, report: Report | None = None) -> PushResult:
    """Push one local version; :class:`RegistryConflict` when the remote holds its number with other files."""
    store = remote.store
    name = remote.remote.name
    key = card_key(record.name, record.version)
    existing = remote.card_bytes(record.name, record.version)
    if existing is not None:
        if not same_files(check_card(existing, record.name, record.version, name), record.card):
            raise conflict(record.ref, name, "push")
        return PushResult(record.ref, "present", 0, 0, len(record.card.files))
    before = store.transfer.uploaded_bytes
    uploaded = skipped = 0
    files = sorted(record.card.files.items())
    for done, (filename, info) in enumerate(files):
        if store.size(blob_key(info.sha256)) == info.bytes:
            skipped += 1
        else:
            store.put(blob_key(info.sha256), _verified_bytes(record, filename))
            uploaded += 1
        if report is not None:
            report(record.ref, done + 1, len(files))
    card = (record.path / CARD_FILE).read_bytes()
    store.clean_temporaries(f"cards/{record.name}")
    if not store.create(key, card):
        raced = remote.card_bytes(record.name, record.version)  # another pusher created it after our read
        if raced is None or not same_files(check_card(raced, record.name, record.version, name), record.card):
            raise conflict(record.ref, name, "push")
        return PushResult(record.ref, "present", store.transfer.uploaded_bytes - before, uploaded, skipped)
    return PushResult(record.ref, "pushed", store.transfer.uploaded_bytes - before, uploaded, skipped)


def _verified_bytes(record: AdapterRecord, filename: str) -> bytes:
    """A local file's bytes after checking them against the card: a corrupt local file is never pushed."""
    info = record.card.files[filename]
    path = record.path / filename
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryCorrupt(f"{record.ref}: cannot read {filename} ({exc}); nothing of it was pushed") from exc
    if len(data) != info.bytes or hashlib.sha256(data).hexdigest() != info.sha256:
        raise RegistryCorrupt(
            f"{record.ref}: {filename} does not match the sha256 in its card; refusing to push it. Run "
            "`hub registry verify`"
        )
    return data
