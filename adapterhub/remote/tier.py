"""A remote as the tier below a local registry: what the registry lacks is pulled from the remote on first use.

A :class:`~adapterhub.inference.Hub` made with ``remote=`` keeps four tiers, slowest first: the remote, the
local registry (its cache), warm (parsed in CPU memory) and hot (on the device). :class:`RemoteTier` is the
first step: a reference the local registry does not hold is resolved on the remote and pulled through
:func:`~adapterhub.remote.pull.pull_version` (every file verified in staging, then the registry's atomic adopt),
so everything the hub loads afterwards comes from the local registry and passes the same checks as a version
published there, the base fingerprint included.

Pulls hold a lock per exact reference: concurrent requests for one missing version cause one download, and a
pull never holds a lock that requests for other adapters need.

Aliases follow the remote: once a request has named ``NAME:ALIAS``, a background thread reads that alias on the
remote every ``follow_s`` seconds (one small GET) and, when ``hub tag ... --remote`` moved it, pulls the version
it points to and moves the local alias, which requests then see within the hub's own alias recheck. Requests
never wait on the remote for this; while the remote cannot be reached the alias stays where it was (said once in
the log). A weighted local alias (a canary) is the local operator's choice and is left alone.
"""

from __future__ import annotations

import logging
import threading

from adapterhub.errors import AdapterHubError, AdapterNotFound, RegistryConflict
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.remote.catalog import RemoteRegistry
from adapterhub.remote.config import Remote, get_remote
from adapterhub.remote.pull import pull_version

FOLLOW_S = 5.0  # how often a followed alias is read on the remote
log = logging.getLogger("adapterhub.remote")


class RemoteTier:
    """The local ``registry`` backed by ``remote``.

    Args:
        registry: The local registry: the cache the remote's versions are pulled into.
        remote: A remote of ``registry`` by name (kept in its ``.remotes.json``), a :class:`Remote`, or a
            :class:`RemoteRegistry`.
        follow_s: Seconds between two reads of a followed alias on the remote (default ``FOLLOW_S``).
    """

    def __init__(
        self, registry: Registry, remote: str | Remote | RemoteRegistry, *, follow_s: float | None = None
    ) -> None:
        if isinstance(remote, str):
            remote = get_remote(registry.root, remote)
        self.registry = registry
        self.remote = remote if isinstance(remote, RemoteRegistry) else RemoteRegistry(remote)
        self.follow_s = FOLLOW_S if follow_s is None else follow_s
        self._locks: dict[str, threading.Lock] = {}  # exact reference -> the lock its pull holds
        self._locks_guard = threading.Lock()
        self._followed: set[tuple[str, str]] = set()  # (name, alias) that requests named
        self._follower: threading.Thread | None = None
        self._stop = threading.Event()
        self._said: set[str] = set()  # follow errors logged already

    def __repr__(self) -> str:
        return f"RemoteTier({self.registry.root!s}, {self.remote.remote.name}={self.remote.store.where})"

    @property
    def name(self) -> str:
        """The remote's name, as messages give it."""
        return self.remote.remote.name

    def local(self, ref: str | Ref) -> AdapterRecord:
        """The local record of ``ref``, pulled from the remote first when the local registry does not hold it.

        Raises:
            AdapterNotFound: neither the local registry nor the remote holds ``ref`` (the message names both).
            RemoteUnavailable: the local registry lacks ``ref`` and the remote cannot be reached.
            RegistryCorrupt: an object on the remote does not match the card (the local registry is unchanged).
        """
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        try:
            return self.registry.get(ref)
        except AdapterNotFound as exc:
            missing = exc
        name, version = self._on_remote(ref, missing)
        return self._pull(name, version, refresh_aliases=False)

    def latest(self, ref: str | Ref) -> AdapterRecord:
        """The version ``ref`` means on the remote now (a name's newest version, an alias's current target),
        pulled when the local registry lacks it, with the remote's aliases of it set locally. A reference the
        remote does not hold resolves in the local registry (an adapter published only here)."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        try:
            name, version = self.remote.resolve(ref)
        except AdapterNotFound as on_remote:
            try:
                return self.registry.get(ref)
            except AdapterNotFound as locally:
                raise self._nowhere(ref, locally, on_remote) from None
        return self._pull(name, version, refresh_aliases=True)

    def where(self, ref: str | Ref) -> str:
        """``"local"`` or ``"remote"``: where ``ref`` would come from, without pulling anything."""
        ref = ref if isinstance(ref, Ref) else Ref.parse(ref)
        try:
            self.registry.get(ref)
            return "local"
        except AdapterNotFound as exc:
            self._on_remote(ref, exc)
            return "remote"

    def _on_remote(self, ref: Ref, missing: AdapterNotFound) -> tuple[str, int]:
        try:
            return self.remote.resolve(ref)
        except AdapterNotFound as on_remote:
            raise self._nowhere(ref, missing, on_remote) from None

    def _nowhere(self, ref: Ref, locally: AdapterNotFound, on_remote: AdapterNotFound) -> AdapterNotFound:
        return AdapterNotFound(
            f"{ref} is neither in the local registry ({locally}) nor on remote {self.name} ({on_remote})"
        )

    def _pull(self, name: str, version: int, *, refresh_aliases: bool) -> AdapterRecord:
        exact = Ref(name, version=version)
        with self._lock(str(exact)):
            # another request may have pulled it while this one waited: then there is nothing to download
            if refresh_aliases or not (self.registry.exists() and version in self.registry.versions(name)):
                try:
                    pull_version(self.registry, self.remote, name, version)
                except RegistryConflict:
                    # another process adopted it between the check and the rename: with the same files the
                    # second attempt finds it present; with other files it is refused again, as it should be
                    pull_version(self.registry, self.remote, name, version)
        return self.registry.get(exact)

    def follow(self, name: str, alias: str) -> None:
        """Keep the local ``name:alias`` in step with the remote's from now on (see the module); a set lookup
        when it is followed already, so request paths call it freely."""
        if (name, alias) in self._followed:
            return
        with self._locks_guard:
            self._followed.add((name, alias))
            if self._follower is None and not self._stop.is_set():
                self._follower = threading.Thread(target=self._follow, name="adapterhub-remote-aliases", daemon=True)
                self._follower.start()

    def refresh_alias(self, name: str, alias: str) -> int | None:
        """Move the local ``name:alias`` to the version the remote's points to, pulling that version when the
        local registry lacks it; that version, or None when the remote has no such alias or the local one is
        weighted (left alone)."""
        version = self.remote.alias(name, alias)
        if version is None:
            return None
        local = self.registry.aliases(name).get(alias) if name in self.registry.names() else None
        if local is not None and not isinstance(local, int):  # a weighted alias: a local canary
            return None
        if local != version:
            self._pull(name, version, refresh_aliases=True)
        return version

    def close(self) -> None:
        """Stop following aliases (the thread ends within a moment)."""
        self._stop.set()
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.join(timeout=30)

    def _follow(self) -> None:
        while not self._stop.wait(self.follow_s):
            with self._locks_guard:
                followed = sorted(self._followed)
            for name, alias in followed:
                try:
                    self.refresh_alias(name, alias)
                except AdapterHubError as exc:  # unreachable, corrupt, a conflict: the alias stays where it was
                    said = f"{name}:{alias}: {exc}"
                    if said not in self._said:
                        self._said.add(said)
                        log.warning("could not follow %s on remote %s: %s", f"{name}:{alias}", self.name, exc)
                except Exception:  # never let the thread die: the next round tries again
                    log.exception("following %s:%s on remote %s failed", name, alias, self.name)

    def _lock(self, ref: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(ref, threading.Lock())
