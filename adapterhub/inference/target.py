"""``AdapterTarget``: one request's adapter, resolved once from the reference the caller gave.

A reference (``sentiment``, ``sentiment@01``, ``sentiment:prod``) is resolved by
:class:`~adapterhub.inference.routing.Routing` exactly once per request: the alias is followed (a weighted one
picks its version by the caller's key), a bare name takes its pinned or newest version, and a version only the
remote holds is pulled. What comes out is a target: the version's record, the reference the caller gave and
the reference it is pinned under. The batcher, the forward passes, the metrics, the shadows and the prediction
log take the target and never parse the reference again. The exact ``ref`` is the target's residency slot:
:class:`~adapterhub.inference.residency.Residency` keeps the resident copy under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapterhub.registry import AdapterRecord


@dataclass(frozen=True, eq=False)  # one resolution is one target: compared and hashed by identity
class AdapterTarget:
    """One resolved adapter reference.

    Attributes:
        asked: The reference as the caller gave it (``sentiment:prod``): shadows are attached to it.
        pin: The reference as the registry writes it once aliases are followed (``sentiment``, ``sentiment@3``):
            the hub pins it to the version it first resolved to.
        record: The version the request runs on.
    """

    asked: str
    pin: str
    record: AdapterRecord

    @property
    def ref(self) -> str:
        """The exact NAME@VERSION the request runs on, and the key of its resident copy."""
        return self.record.ref

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def task(self) -> str:
        return self.record.card.task

    def __str__(self) -> str:
        return self.record.ref
