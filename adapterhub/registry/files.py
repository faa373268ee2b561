"""Durable file operations: hashing, fsync, atomic writes and the safetensors header.

Readers never see half a file: every write goes to a temporary name, is fsynced, then renamed over the
target, and the directory holding it is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapterhub.errors import AdapterHubError, RegistryConflict, RegistryCorrupt

CHUNK = 1 << 20
MAX_HEADER = 100 << 20  # safetensors' own limit on the JSON header


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (directories make renames and new entries durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(path: Path) -> Path:
    """A name beside ``path`` to write it under first (``.NAME.<random>.tmp``): nobody can plant anything there
    ahead of the write, as they could at a name made of the file's name or the process id."""
    hidden = path.name if path.name.startswith(".") else f".{path.name}"
    return path.with_name(f"{hidden}.{secrets.token_hex(8)}.tmp")


def create_new(path: Path, *, private: bool = False) -> int:
    """Create the file ``path`` and return a descriptor open for writing it. Never opens a file that exists and
    never follows a symlink (``O_CREAT | O_EXCL | O_NOFOLLOW``): whatever stands at ``path`` makes it fail with
    FileExistsError, untouched. ``private``: readable by its owner only (0600), whatever the umask."""
    mode = 0o600 if private else 0o666
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    if private:
        os.fchmod(fd, mode)  # a umask such as 0o277 would have taken the owner's write bit too
    return fd


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = temporary_path(path)
    try:
        with open(create_new(tmp), "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def disk_error(exc: OSError, doing: str) -> AdapterHubError:
    """The one-line error for an ``exc`` raised while ``doing`` a write that left the registry unchanged (a full
    disk says so, and what to do)."""
    if exc.errno == errno.ENOSPC:
        return AdapterHubError(
            f"no space left on device while {doing}; the registry is unchanged. Free space and retry"
        )
    return AdapterHubError(f"{doing} failed: {exc.strerror or exc} ({exc.filename}); the registry is unchanged")


def check_new_directory(dest: Path) -> None:
    """Refuse a ``dest`` that exists and is not an empty folder: an export never writes over anything."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RegistryConflict(f"{dest} exists and is not empty; choose a new directory or empty it first")


@contextmanager
def new_directory(dest: Path) -> Iterator[Path]:
    """A folder written beside ``dest`` that becomes ``dest`` with one rename when the block ends without error,
    so ``dest`` appears complete or not at all (see :func:`check_new_directory`)."""
    check_new_directory(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if dest.exists():
            dest.rmdir()
        os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def safetensors_header(path: Path) -> dict[str, Any]:
    """Read a safetensors file's JSON header without loading any tensor (and without torch)."""
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) != 8:
                raise ValueError("file shorter than a safetensors header")
            (size,) = struct.unpack("<Q", prefix)
            if size > MAX_HEADER:
                raise ValueError(f"header of {size} bytes is larger than safetensors allows")
            header = json.loads(fh.read(size))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        return header
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RegistryCorrupt(f"{path} is not a valid safetensors file: {exc}") from exc


def count_parameters(path: Path) -> int:
    """Number of scalar values stored in a safetensors file."""
    total = 0
    for key, info in safetensors_header(path).items():
        if key == "__metadata__":
            continue
        count = 1
        for dim in info["shape"]:
            count *= dim
        total += count
    return total
