"""One writer at a time per registry, across threads, processes and hosts.

POSIX record locks (``fcntl.lockf``) are used rather than ``flock`` because they also hold on NFS, so several
machines may share one registry. POSIX locks belong to a process, not a file descriptor, so threads of one
process are serialised by an in-process lock first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapterhub.registry.paths import refuse_link

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _guard:
        return _thread_locks.setdefault(str(path.resolve()), threading.Lock())


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` exclusively for the duration of the block (blocking until it is free)."""
    with _thread_lock(path):
        try:  # O_NOFOLLOW: a symlinked lock file would create or lock a file outside the registry
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            refuse_link(path)
            raise
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
