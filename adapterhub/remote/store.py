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

import errno
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from adapterhub.errors import ConfigError, RemoteUnavailable

T = TypeVar("T")

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 60
SCHEMES = ("s3", "file")


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


@dataclass
class Store:
    """Keys (``a/b/c``, relative to the remote's root) mapped to bytes, on S3 or in a folder.

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

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        try:
            data = self._call(lambda fs: fs.cat_file(self._path(key)))
        except FileNotFoundError:
            return None
        self.transfer.downloaded_bytes += len(data)
        return data

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such key."""
        try:
            info = self._call(lambda fs: fs.info(self._path(key)))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def children(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (objects and "folders"), sorted; empty when there are none."""
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
            path = Path(self._path(key))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._temporary(path, data)
            os.replace(tmp, path)
        else:
            self._call(lambda fs: fs.pipe_file(self._path(key), data))
        self.transfer.uploaded_bytes += len(data)
        self.transfer.uploaded_objects += 1

    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only when it does not exist; True when this call created it, False when it was there.

        Atomic against other writers: S3's ``If-None-Match: *``, or ``link`` of a complete file in a folder."""
        if self.scheme == "file":
            path = Path(self._path(key))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._temporary(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                tmp.unlink()
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

    # ---------------------------------------------------------------- internals

    def _path(self, key: str) -> str:
        return f"{self.location.rstrip('/')}/{key}" if key else self.location

    def _temporary(self, path: Path, data: bytes) -> Path:
        """``data`` in a complete, fsynced file beside ``path`` (so a rename or link publishes it whole)."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def _filesystem(self) -> Any:
        if self._fs is None:
            if self.scheme == "file":
                from fsspec.implementations.local import LocalFileSystem

                self._fs = LocalFileSystem()
            else:
                import s3fs

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
        except (FileNotFoundError, FileExistsError):
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
        import botocore.exceptions as boto
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
    import aiohttp

    def handler(loop: Any, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, (aiohttp.ClientConnectionError, ConnectionError)) and "future" in context:
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
