"""Keeping the registry inside its root: it holds no symlinks, and it follows none.

The registry writes no symlink. One found where the registry keeps its own entries (a work folder, a name or
version folder, a version's file, ``aliases.json``, the index) was put there by something else and may point
anywhere: following it would let a read command delete or overwrite files outside the registry. Such an entry
is refused with :class:`RegistryCorrupt`, never followed; ``verify`` lists every one of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from adapterhub.errors import RegistryCorrupt


def link_target(path: Path) -> str | None:
    """Where ``path`` points when it is a symlink, else None (``path`` itself is never followed)."""
    try:
        return os.readlink(path) if path.is_symlink() else None
    except OSError:
        return None


def refuse_link(path: Path) -> None:
    """Raise :class:`RegistryCorrupt` when ``path`` is a symlink."""
    target = link_target(path)
    if target is not None:
        raise RegistryCorrupt(
            f"{path} is a symlink (to {target}); a registry holds no symlinks and follows none: replace it with "
            f"the real folder or file, or remove the link (`rm {path}`), then run `hub registry verify`"
        )


def work_folder(path: Path, *, create: bool) -> bool:
    """True when the work folder ``path`` (``.journal``, ``.staging``, ``.trash``, ``.logs``...) is a real
    directory, created first when ``create``; False when it is absent. A symlink or anything but a directory raises
    :class:`RegistryCorrupt`: the registry deletes what these folders hold, so it must never reach elsewhere."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not create:
            return False
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.mkdir(path)
        mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        refuse_link(path)
    if not stat.S_ISDIR(mode):
        raise RegistryCorrupt(
            f"{path} is not a directory; it is the registry's own work folder: move it away, then retry"
        )
    return True


def remove_entry(path: Path) -> None:
    """Delete ``path``: a file or a symlink itself (never what a link points to), or a folder tree whose inner
    links are removed, not followed (``shutil.rmtree`` works on file descriptors here)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
