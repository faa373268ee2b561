"""Remotes of a registry, kept in its folder as ``.remotes.json``: a name, a URL, an endpoint and a profile.

No credential is ever written here: the store's client finds them in its standard chain (environment variables,
the named profile of the AWS configuration files, the instance role).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from adapterhub.errors import AdapterNotFound, ConfigError, RegistryConflict, RegistryCorrupt
from adapterhub.names import validate_name
from adapterhub.registry.files import atomic_write
from adapterhub.registry.locking import exclusive
from adapterhub.registry.paths import refuse_link
from adapterhub.remote.store import Store, parse_url

REMOTES_FILE = ".remotes.json"
DEFAULT_REMOTE = "origin"


@dataclass(frozen=True)
class Remote:
    """One remote registry: where it is and how to reach it (never with what secret)."""

    name: str
    url: str
    endpoint_url: str | None = None
    profile: str | None = None

    def store(self) -> Store:
        """A :class:`Store` for this remote (no connection is made until it is used)."""
        return Store(self.url, endpoint_url=self.endpoint_url, profile=self.profile)

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def load_remotes(root: Path) -> dict[str, Remote]:
    """The remotes of the registry at ``root`` by name (none when it has no ``.remotes.json``)."""
    path = root / REMOTES_FILE
    refuse_link(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {name: Remote(name=name, **fields) for name, fields in sorted(data["remotes"].items())}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RegistryCorrupt(f"unreadable {path} ({exc}); fix it or remove it and add the remotes again") from exc


def add_remote(root: Path, remote: Remote) -> Remote:
    """Record ``remote`` in the registry at ``root`` (created if needed); refuses a name already in use."""
    validate_name(remote.name, "remote name")
    parse_url(remote.url)
    remote.store()  # checks that the options fit the URL's scheme
    if remote.endpoint_url is not None and not remote.endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"--endpoint-url {remote.endpoint_url!r} is not an http:// or https:// URL")
    root.mkdir(parents=True, exist_ok=True)
    with exclusive(root / ".lock"):
        remotes = load_remotes(root)
        if remote.name in remotes:
            raise RegistryConflict(
                f"a remote named {remote.name!r} exists ({remotes[remote.name].url}); remove it first with "
                f"`hub remote rm {remote.name}`"
            )
        remotes[remote.name] = remote
        _write(root, remotes)
    return remote


def remove_remote(root: Path, name: str) -> Remote:
    """Forget the remote ``name`` (nothing on the remote is touched)."""
    validate_name(name, "remote name")
    if not root.is_dir():
        get_remote(root, name, {})  # no registry, so no remote: refused the same way
    with exclusive(root / ".lock"):
        remotes = load_remotes(root)
        removed = get_remote(root, name, remotes)
        del remotes[name]
        _write(root, remotes)
    return removed


def get_remote(root: Path, name: str | None, remotes: dict[str, Remote] | None = None) -> Remote:
    """The remote ``name`` (``origin`` when None); :class:`AdapterNotFound` naming the remotes there are."""
    name = name or DEFAULT_REMOTE
    validate_name(name, "remote name")
    remotes = load_remotes(root) if remotes is None and root.is_dir() else remotes or {}
    if name not in remotes:
        have = ", ".join(remotes) or "none"
        raise AdapterNotFound(
            f"no remote named {name!r} in {root} (remotes: {have}); add one with `hub remote add {name} URL`"
        )
    return remotes[name]


def _write(root: Path, remotes: dict[str, Remote]) -> None:
    document = {"remotes": {n: {k: v for k, v in asdict(r).items() if k != "name"} for n, r in remotes.items()}}
    atomic_write(root / REMOTES_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n")
