"""Remote registries: adapters shared through S3-compatible object stores or a mounted folder.

:mod:`~adapterhub.remote.config` keeps a registry's remotes, :mod:`~adapterhub.remote.store` reaches them,
:mod:`~adapterhub.remote.catalog` reads what they hold, and :mod:`~adapterhub.remote.push` /
:mod:`~adapterhub.remote.pull` move versions with their identity and integrity intact, and
:mod:`~adapterhub.remote.tier` pulls what a serving hub's local registry lacks.
"""

from adapterhub.remote.catalog import RemoteRegistry
from adapterhub.remote.config import Remote, add_remote, get_remote, load_remotes, remove_remote
from adapterhub.remote.pull import PullResult, pull
from adapterhub.remote.push import PushResult, push
from adapterhub.remote.store import Store
from adapterhub.remote.tier import RemoteTier

__all__ = [
    "PullResult",
    "PushResult",
    "Remote",
    "RemoteRegistry",
    "RemoteTier",
    "Store",
    "add_remote",
    "get_remote",
    "load_remotes",
    "pull",
    "push",
    "remove_remote",
]
