"""Routing: from an adapter reference to the :class:`~adapterhub.inference.target.AdapterTarget` it runs on.

A bare name resolves to its newest version when first used and stays pinned to it (``hub.load(name)``
resolves again). An alias (``sentiment:prod``) follows the registry: a change made by ``hub tag`` in any
process is seen within ``ALIAS_RECHECK_S`` seconds, at the cost of one ``stat`` of ``aliases.json`` per name
and interval. A weighted alias (a canary) sends each call to one of its versions by weight: always the same
one for the same ``key`` (a caller's id), at random without. References are pinned as the registry writes them
(``sentiment@01`` is ``sentiment@1``), so differently spelled requests share one entry. With a remote tier, a
version the local registry lacks is pulled into it during resolution (verified in staging, published
atomically; see :mod:`adapterhub.remote.tier`), never while a batch runs. An ensemble's members are resolved
here too, each once, and checked to be averageable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapterhub.errors import ConfigError, InvalidName
from adapterhub.inference.ensemble import check_members
from adapterhub.inference.residency import Residency
from adapterhub.inference.target import AdapterTarget
from adapterhub.names import Ref
from adapterhub.registry import Registry
from adapterhub.registry.aliases import AliasCache, Split, Target

if TYPE_CHECKING:  # the remote package (and s3fs) load only when a remote is used
    from adapterhub.remote import RemoteTier

ALIAS_RECHECK_S = 1.0  # an alias changed by another process is followed within this many seconds


class Routing:
    """Resolves references against a registry (and a remote tier), reading pins from a :class:`Residency`."""

    def __init__(self, registry: Registry, residency: Residency, tier: RemoteTier | None = None) -> None:
        self.registry, self.residency, self.tier = registry, residency, tier
        self.aliases = AliasCache(registry.aliases, lambda name: registry.root / name, ALIAS_RECHECK_S)

    def route(self, adapter: str, key: str | None = None, *, fresh: bool = False) -> str:
        """The exact NAME@VERSION an alias sends a call to now (by weight for a weighted alias: the same version
        for the same ``key``, at random without one); any other reference unchanged. ``fresh`` reads the
        alias file now rather than within ``ALIAS_RECHECK_S``.

        Raises :class:`AdapterNotFound` for an alias or name the registry does not hold."""
        alias = self._alias(adapter, fresh)
        if alias is None:
            return adapter  # not an alias (a malformed one raises its naming error when resolved)
        ref, target = alias
        if self.tier is not None:  # a set lookup: the remote is read in the background, never here
            self.tier.follow(ref.name, str(ref.alias))
        if target is None:  # unknown here: the remote resolves it, or the registry's own error names what exists
            return adapter if self.tier is not None else self.registry.get(ref, key=key).ref
        version = target.route(str(ref), key) if isinstance(target, Split) else target
        return f"{ref.name}@{version}"

    def split(self, adapter: str) -> Split | None:
        """The split of ``adapter`` when it is a weighted alias (read anew), else None."""
        alias = self._alias(adapter, fresh=True)
        return alias[1] if alias is not None and isinstance(alias[1], Split) else None

    def _alias(self, adapter: str, fresh: bool) -> tuple[Ref, Target | None] | None:
        """``(its reference, what the alias points to or None when unknown)`` when ``adapter`` is an alias."""
        try:
            ref = Ref.parse(adapter)
        except InvalidName:
            return None
        if ref.alias is None:
            return None
        return ref, self.aliases.get(ref.name, fresh=fresh).get(ref.alias)

    def resident(self, adapter: str, routed: str) -> AdapterTarget | None:
        """The target of ``adapter`` (``routed`` once its alias is followed) when its pinned version is in
        memory, else None; no card is read."""
        pin = canonical(routed)
        record = self.residency.pinned_record(pin)
        return AdapterTarget(adapter, pin, record) if record is not None else None

    def target(self, adapter: str, key: str | None = None, *, routed: str | None = None) -> AdapterTarget:
        """Resolve ``adapter`` once: its alias followed (``routed`` when the caller routed it already), the
        version its reference is pinned to or, unpinned, the one the registry names now. With a remote, a
        version the local registry lacks is pulled into it first (not loaded), and a miss names both places.

        Raises :class:`AdapterNotFound` for a name, version or alias the registry does not hold."""
        routed = self.route(adapter, key) if routed is None else routed
        found = self.resident(adapter, routed)
        if found is not None:
            return found
        pin = canonical(routed)
        ref = Ref.parse(self.residency.pinned.get(pin) or pin)
        record = self.tier.local(ref) if self.tier is not None else self.registry.get(ref)
        return AdapterTarget(adapter, pin, record)

    def latest(self, adapter: str) -> str | None:
        """With a remote: the exact reference ``adapter`` names there now, pulled when the local registry lacks
        it (its pull also moves the local alias to the remote's target); None without a remote."""
        return self.tier.latest(canonical(adapter)).ref if self.tier is not None else None

    def ensemble(self, members: Any, combine: str) -> tuple[list[AdapterTarget], tuple[str, ...]]:
        """Each member of an ensemble resolved once, and their common label order; refuses what cannot be
        averaged, naming the member at fault."""
        if not isinstance(members, list | tuple):
            raise ConfigError("combine needs adapter to be a list of at least two adapters, e.g. ['a@1', 'a@2']")
        targets = [m if isinstance(m, AdapterTarget) else self.target(m) for m in members]
        named = [t.asked for t in targets]
        return targets, check_members(named, [t.record for t in targets], combine)


def canonical(spec: str) -> str:
    """``spec`` as the registry writes it (``sentiment@0001`` is ``sentiment@1``), so that every spelling of one
    reference pins one entry; a malformed spec is kept as given (resolving it raises the naming error)."""
    try:
        return str(Ref.parse(spec))
    except InvalidName:
        return spec
