"""The object store under a remote registry: S3-compatible buckets and plain folders through one interface.

Everything goes through fsspec: s3fs for ``s3://`` (AWS S3, MinIO, Cloudflare R2, GCS's S3 interface, any
``--endpoint-url``) and its local file system for ``file://`` (a mounted team folder). Credentials are never
read or stored here: s3fs asks botocore's standard chain (environment, the named ``profile``, the instance
role). Connect timeouts and retries are kept low so that an unreachable endpoint is one line within seconds,
not a minute of silent retrying.

Two writes matter for integrity. :meth:`Store.put` replaces an object whole (S3 PUTs are atomic; a folder
gets a temporary name and a rename), so a reader never sees half an object. :meth:`Store.create` writes only
when the key is absent and says whether it did: S3's conditional ``If-None-Match: *`` PUT, or a hard link
of a complete temporary file in a folder (``link`` fails when the target exists). Two writers of one key
never both succeed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import socket
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlparse

from adapterhub.errors import AdapterHubError, ConfigError, RegistryCorrupt, RemoteUnavailable
from adapterhub.registry.paths import link_target, process_alive

T = TypeVar("T")

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 60
SCHEMES = ("s3", "file")
CHUNK = 8 << 20  # bytes a download reads at a time (one ranged GET on S3)
MAX_OBJECT_BYTES = 16 << 20  # the most a card or an alias object may take; a real one takes a few kB
STALE_TEMPORARY_S = 24 * 3600  # a temporary file of a folder remote older than this belongs to no live writer
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())
# the temporary name of a write to a folder remote: .NAME.HOST-PID-HEX.tmp (or .NAME.HEX.tmp, as written before)
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?:(?P<host>[A-Za-z0-9_]+)-(?P<pid>[0-9]+)-)?[0-9a-f]{32}\.tmp")


def parse_url(url: str) -> tuple[str, str]:
    """``(scheme, location)`` of a remote URL: ``s3://bucket[/prefix]`` or ``file:///absolute/folder``;
    :class:`ConfigError` for anything else."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"remote URL {url!r} names no bucket; write s3://BUCKET[/PREFIX]")
        prefix = parsed.path.strip("/")
        return "s3", f"{parsed.netloc}/{prefix}" if prefix else parsed.netloc
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise ConfigError(f"remote URL {url!r} is not an absolute folder; write file:///absolute/path")
        return "file", parsed.path.rstrip("/") or "/"
    raise ConfigError(
        f"remote URL {url!r} is not s3://BUCKET[/PREFIX] or file:///FOLDER (schemes: {', '.join(SCHEMES)})"
    )


@dataclass
class Transfer:
    """What a store sent and received, for reports and for tests that count uploads."""

    uploaded_bytes: int = 0
    uploaded_objects: int = 0
    downloaded_bytes: int = 0


class Oversized(Exception):
    """An object larger than its reader allows; ``size`` is its size when known before reading (else None: it
    grew past the limit while being read)."""

    def __init__(self, key: str, size: int | None) -> None:
        super().__init__(f"{key}: {size if size is not None else 'more'} bytes")
        self.key = key
        self.size = size


@dataclass
class Store:
    """Keys (``a/b/c``, relative to the remote's root) mapped to bytes, on S3 or in a folder.

    A folder remote is read and written without following a symlink below its root: whatever is put there is
    someone else's, and following it could read or write anywhere (:class:`RegistryCorrupt` names the link).
    Every read is bounded: a small object (a card, an alias) by ``MAX_OBJECT_BYTES``, a blob by the size its
    card gives, checked before the first byte is read.

    Args:
        url: ``s3://bucket[/prefix]`` or ``file:///folder``.
        endpoint_url: An S3-compatible endpoint other than AWS (MinIO, R2, a local test server).
        profile: A named profile of the AWS configuration files.
    """

    url: str
    endpoint_url: str | None = None
    profile: str | None = None
    transfer: Transfer = field(default_factory=Transfer)

    def __post_init__(self) -> None:
        self.scheme, self.location = parse_url(self.url)
        if self.scheme == "file" and (self.endpoint_url or self.profile):
            raise ConfigError("--endpoint-url and --profile are for s3:// remotes; a file:// remote takes neither")
        self._fs: Any = None

    @property
    def where(self) -> str:
        """The remote as a user names it in a message: its URL, and the endpoint when there is one."""
        return f"{self.url} at {self.endpoint_url}" if self.endpoint_url else self.url

    # ---------------------------------------------------------------- reading

    def read(self, key: str, limit: int = MAX_OBJECT_BYTES) -> bytes | None:
        """The object's bytes, or None when there is no such key; :class:`Oversized` past ``limit`` bytes."""
        if self.scheme == "file":
            out = io.BytesIO()
            return out.getvalue() if self.copy_to(key, out, limit) is not None else None

        def first_bytes(fs: Any) -> bytes:  # one ranged GET: never more than limit + 1 bytes come back
            try:
                return fs.cat_file(self._path(key), start=0, end=limit + 1)
            except OSError as exc:
                if exc.errno == errno.EINVAL and "range" in str(exc).lower():
                    return b""  # an empty object, of which S3 has no range
                raise

        try:
            data = self._call(first_bytes)
        except FileNotFoundError:
            return None
        self.transfer.downloaded_bytes += len(data)
        if len(data) > limit:
            raise Oversized(key, None)
        return data

    def copy_to(self, key: str, out: BinaryIO, limit: int) -> int | None:
        """Write the object's bytes to ``out`` in chunks; their count, or None when there is no such key.

        An object whose size is above ``limit`` raises :class:`Oversized` before any byte is read, and reading
        stops at ``limit`` whatever the object does meanwhile, so memory and disk never take more than the
        caller allowed."""
        if self.scheme == "file":
            return self._copy_local(key, out, limit)
        path = self._path(key)
        try:
            info = self._call(lambda fs: fs.info(path))
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        size = int(info["size"])
        if size > limit:
            raise Oversized(key, size)
        try:
            with self._call(lambda fs: fs.open(path, "rb", block_size=CHUNK, cache_type="none", size=size)) as fh:
                return self._pump(key, lambda n: self._call(lambda fs: fh.read(n)), out, limit)
        except FileNotFoundError:  # removed between the two requests
            return None

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object (a symlink in a folder remote is
        none: it is never followed)."""
        if self.scheme == "file":
            fd = self._open_local(key, folder=False, links="absent")
            if fd is None:
                return None
            try:
                mode = os.fstat(fd)
                return mode.st_size if stat.S_ISREG(mode.st_mode) else None
            finally:
                os.close(fd)
        try:
            info = self._call(lambda fs: fs.info(self._path(key)))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def children(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (objects and "folders"), sorted; empty when there are none."""
        if self.scheme == "file":
            fd = self._open_local(prefix, folder=True)
            if fd is None:
                return []
            try:
                return sorted(os.listdir(fd))
            finally:
                os.close(fd)
        path = self._path(prefix)
        try:
            entries = self._call(lambda fs: fs.ls(path, detail=False, refresh=True))
        except FileNotFoundError:
            return []
        return sorted({e.rstrip("/").rsplit("/", 1)[-1] for e in entries if e.rstrip("/") != path.rstrip("/")})

    def check(self) -> None:
        """Reach the remote once (list its root); :class:`RemoteUnavailable` in one line when it cannot be."""
        if self.scheme == "file":
            if not os.path.isdir(self.location):
                raise RemoteUnavailable(f"remote {self.url}: {self.location} is not a folder; create it or fix the URL")
            return
        bucket = self.location.split("/", 1)[0]
        try:
            self._call(lambda fs: fs.ls(bucket, detail=False, refresh=True))
        except FileNotFoundError:
            raise RemoteUnavailable(f"remote {self.where}: no bucket {bucket!r}; create it or fix the URL") from None

    # ---------------------------------------------------------------- writing

    def put(self, key: str, data: bytes) -> None:
        """Write ``key`` whole, replacing what was there."""
        if self.scheme == "file":
            folder, name = self._local_folder(key)
            try:
                tmp = self._temporary(folder, name, data)
                os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            finally:
                os.close(folder)
        else:
            self._call(lambda fs: fs.pipe_file(self._path(key), data))
        self.transfer.uploaded_bytes += len(data)
        self.transfer.uploaded_objects += 1

    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only when it does not exist; True when this call created it, False when it was there.

        Atomic against other writers: S3's ``If-None-Match: *``, or ``link`` of a complete file in a folder."""
        if self.scheme == "file":
            folder, name = self._local_folder(key)
            try:
                tmp = self._temporary(folder, name, data)
                try:
                    os.link(tmp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
                except FileExistsError:
                    return False
                finally:
                    os.unlink(tmp, dir_fd=folder)
            finally:
                os.close(folder)
        else:
            try:
                self._call(lambda fs: fs.pipe_file(self._path(key), data, mode="create"))
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno == errno.EINVAL and "precondition" in str(exc).lower():
                    return False  # a 412 that the server did not label If-None-Match
                raise
        self.transfer.uploaded_bytes += len(data)
        self.transfer.uploaded_objects += 1
        return True

    def clean_temporaries(self, prefix: str) -> list[str]:
        """Remove the temporary files that writers to the folder ``prefix`` of a folder remote left when they
        died (killed mid-push, a power cut): those of this host's dead processes, and any older than
        ``STALE_TEMPORARY_S``. A live writer's are left alone. The names removed (none on S3, whose writes
        leave nothing half done)."""
        if self.scheme != "file":
            return []
        fd = self._open_local(prefix, folder=True)
        if fd is None:
            return []
        removed = []
        try:
            now = time.time()
            for entry in os.listdir(fd):
                match = _TEMPORARY.fullmatch(entry)
                if match is None:
                    continue
                try:
                    age = now - os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
                dead = match["host"] == _HOST and match["pid"] is not None and not process_alive(int(match["pid"]))
                if dead or age > STALE_TEMPORARY_S:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry, dir_fd=fd)
                        removed.append(entry)
        finally:
            os.close(fd)
        return removed

    # ---------------------------------------------------------------- internals

    def _path(self, key: str) -> str:
        return f"{self.location.rstrip('/')}/{key}" if key else self.location

    def _pump(self, key: str, read: Callable[[int], bytes], out: BinaryIO, limit: int) -> int:
        """Copy chunks from ``read`` to ``out`` until the end; :class:`Oversized` past ``limit`` bytes."""
        total = 0
        while chunk := read(min(CHUNK, limit + 1 - total)):
            total += len(chunk)
            self.transfer.downloaded_bytes += len(chunk)
            if total > limit:
                raise Oversized(key, None)
            out.write(chunk)
        return total

    def _copy_local(self, key: str, out: BinaryIO, limit: int) -> int | None:
        fd = self._open_local(key, folder=False)
        if fd is None:
            return None
        with open(fd, "rb", buffering=0) as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            if info.st_size > limit:
                raise Oversized(key, info.st_size)
            return self._pump(key, fh.read, out, limit)

    def _open_local(self, key: str, *, folder: bool, links: str = "refuse") -> int | None:
        """A descriptor of ``key`` under the folder remote's root, reached without following any symlink below
        the root (the root itself may be one: a mounted share); None when it does not exist. A symlink on the
        way raises :class:`RegistryCorrupt` naming it, or counts as absent with ``links="absent"``."""
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"not a key of a remote: {key!r}")
        try:
            fd = os.open(self.location, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _unavailable(self, exc) from None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            # O_NONBLOCK: a fifo planted as an object must not hang the reader (reads of files ignore it)
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if folder or not last else os.O_NONBLOCK)
            try:
                inner = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                link = exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd)
                os.close(fd)
                if link and links == "refuse":
                    raise self._link(parts[: i + 1]) from None
                if link or isinstance(exc, (FileNotFoundError, NotADirectoryError)) or exc.errno == errno.ENOTDIR:
                    return None
                raise _unavailable(self, exc) from None
            os.close(fd)
            fd = inner
        return fd

    def _local_folder(self, key: str) -> tuple[int, str]:
        """(descriptor of the folder that holds ``key``, created as needed without following a link, the key's
        last part): where a write of ``key`` goes."""
        *parents, name = [p for p in key.split("/") if p]
        fd = os.open(self.location, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i, part in enumerate(parents):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                try:
                    inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd):
                        raise self._link(parents[: i + 1]) from None
                    raise
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def _link(self, parts: list[str]) -> RegistryCorrupt:
        key = "/".join(parts)
        target = link_target(Path(self.location, key))
        return RegistryCorrupt(
            f"remote {self.url}: {key} is a symlink (to {target}); a remote holds no symlinks and none is followed: "
            "replace it with what it points to, or remove it"
        )

    def _temporary(self, folder: int, name: str, data: bytes) -> str:
        """``data`` in a complete, fsynced file beside ``name`` in ``folder`` (so a rename or link publishes it
        whole); its name says which host and process wrote it, for :meth:`clean_temporaries`."""
        tmp = f".{name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=folder)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def _filesystem(self) -> Any:
        if self._fs is None:
            if self.scheme == "file":
                from fsspec.implementations.local import LocalFileSystem  # fsspec: loaded on first use

                self._fs = LocalFileSystem()
            else:
                import s3fs  # s3fs: loaded on first use

                self._fs = s3fs.S3FileSystem(
                    profile=self.profile,
                    endpoint_url=self.endpoint_url,
                    skip_instance_cache=True,  # a fresh client per store: no state shared between remotes
                    config_kwargs={
                        "connect_timeout": CONNECT_TIMEOUT_S,
                        "read_timeout": READ_TIMEOUT_S,
                        "retries": {"max_attempts": 2, "mode": "standard"},
                    },
                )
                self._fs.retries = 2  # s3fs's own retry loop, on top of botocore's
                _quiet_orphaned_writes(self._fs.loop)
        return self._fs

    def _call(self, action: Callable[[Any], T]) -> T:
        """``action(fs)``; failures to reach or to be allowed in become one :class:`RemoteUnavailable` line.
        ``FileNotFoundError`` and ``FileExistsError`` pass through: callers decide what absence means."""
        try:
            return action(self._filesystem())
        except (FileNotFoundError, FileExistsError, AdapterHubError):
            raise
        except PermissionError as exc:
            raise RemoteUnavailable(
                f"remote {self.where}: access denied ({_first_line(exc)}); check the credentials of the "
                "environment or --profile"
            ) from None
        except Exception as exc:
            raise _unavailable(self, exc) from None


def _unavailable(store: Store, exc: Exception) -> RemoteUnavailable | Exception:
    """The one-line error for a failure to use ``store``, or ``exc`` itself when it is not about the remote."""
    try:
        import botocore.exceptions as boto  # botocore: loaded on first use
    except ImportError:  # file:// remotes need no botocore
        boto = None
    if boto is not None and isinstance(exc, boto.NoCredentialsError):
        return RemoteUnavailable(
            f"remote {store.where}: no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
            "--profile to `hub remote add`"
        )
    if boto is not None and isinstance(exc, boto.ProfileNotFound):
        return RemoteUnavailable(f"remote {store.where}: {_first_line(exc)}; fix --profile with `hub remote add`")
    if store.scheme == "s3" or isinstance(exc, OSError):
        endpoint = store.endpoint_url or "the AWS S3 endpoint"
        return RemoteUnavailable(
            f"cannot reach remote {store.url} at {endpoint}: {_first_line(exc)}; check the endpoint, the network "
            "and the credentials"
        )
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _quiet_orphaned_writes(loop: Any) -> None:
    """Keep a dropped connection to one line. When the endpoint goes away mid-upload, aiohttp's task writing the
    request body fails after the request itself has (and been reported as :class:`RemoteUnavailable`); asyncio
    would print that task's traceback to stderr as "Task exception was never retrieved". Only connection errors
    of such tasks are dropped, on the loop fsspec runs s3fs on; anything else goes to the default handler."""
    import aiohttp  # aiohttp: loaded on first use

    def handler(loop: Any, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, (aiohttp.ClientConnectionError, ConnectionError)) and "future" in context:
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _is_link(name: str, folder: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False
