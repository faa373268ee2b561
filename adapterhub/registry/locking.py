"""One writer at a time per registry, across threads, processes and hosts.

POSIX record locks (``fcntl.lockf``) are used rather than ``flock`` because they also hold on NFS, so several
machines may share one registry. POSIX locks belong to a process, not a file descriptor, so threads of one
process are serialised by an in-process lock first.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _guard:
        return _thread_locks.setdefault(str(path.resolve()), threading.Lock())


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock file ``path`` exclusively for the duration of the block (blocking until it is free)."""
    with _thread_lock(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
