"""Frozen records that the registry hands out; none of them holds tensors.

Their ``to_dict`` methods are the JSON the command line prints with ``--json`` (``hub list``, ``show``,
``tag``, ``rm``, ``registry verify``): a documented schema whose ``schema`` field changes only when a field is
renamed or removed (new fields may appear without it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapterhub.cards.card import Card
from adapterhub.errors import RegistryConflict

SCHEMA = 1  # version of the JSON documents below


@dataclass(frozen=True)
class AdapterRecord:
    """One published adapter version: where it lives, its card and the aliases that point to it (``weights``:
    the weight this version has in each weighted alias among them)."""

    name: str
    version: int
    path: Path
    card: Card
    aliases: tuple[str, ...] = ()
    weights: tuple[tuple[str, float], ...] = ()  # (alias, weight) for each weighted alias of this version

    @property
    def ref(self) -> str:
        """The exact reference of this version, e.g. ``sentiment@3``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """The record schema: ``schema``, ``ref``, ``path`` (the version folder, relative when the registry
        was opened by a relative path), ``aliases``, ``alias_weights`` (this version's weight in each weighted
        alias), then every card field (see ``card.json``)."""
        return {
            "schema": SCHEMA,
            "ref": self.ref,
            "path": str(self.path),
            "aliases": list(self.aliases),
            "alias_weights": dict(self.weights),
            **self.card.to_dict(),
        }


@dataclass(frozen=True)
class RemovalPlan:
    """What a removal deletes, planned before anything is touched (which gives ``--dry-run`` for free).

    ``aliases`` are the ``name:alias`` entries that point to a planned version. They go with the versions when
    the plan is ``force``\\ d; otherwise the plan is ``blocked`` by them and executing it is refused.
    """

    versions: tuple[AdapterRecord, ...]
    aliases: tuple[str, ...]
    executed: bool = False
    targets: tuple[str, ...] = ()
    force: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(record.card.size_bytes for record in self.versions)

    @property
    def blocked(self) -> bool:
        """True when aliases point to planned versions and the plan does not remove them (no ``force``)."""
        return bool(self.aliases) and not self.force

    def alias_targets(self) -> list[tuple[str, str]]:
        """(``name:alias``, ``name@version`` it points to) for every alias in the plan."""
        return [(f"{r.name}:{a}", r.ref) for r in self.versions for a in r.aliases]

    def refusal(self) -> RegistryConflict:
        """Why a blocked plan is refused, saying exactly what ``force`` would also remove."""
        pairs = self.alias_targets()
        one = len(pairs) == 1
        listed = ", ".join(f"{alias} -> {ref}" for alias, ref in pairs)
        points = dict(pairs)
        named = "".join(
            f"; `hub rm {t}` means the version {t} points to ({points[t]}), not only the alias"
            for t in self.targets
            if t in points
        )
        return RegistryConflict(
            f"refusing to remove {'a version an alias points to' if one else 'versions that aliases point to'} "
            f"({listed}){named}; --force removes {'that alias' if one else 'those aliases'} too, or move "
            f"{'it' if one else 'them'} first with `hub tag NAME@VERSION ALIAS` (`--dry-run` shows the plan)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "targets": list(self.targets),
            "executed": self.executed,
            "versions": [{"ref": r.ref, "path": str(r.path), "size_bytes": r.card.size_bytes} for r in self.versions],
            "aliases": [{"alias": alias, "ref": ref} for alias, ref in self.alias_targets()],
            "removes_aliases": self.force,
            "freed_bytes": self.freed_bytes,
        }


@dataclass(frozen=True)
class Problem:
    """One thing ``verify`` found wrong: the version (or the index), the file and what is wrong with it."""

    where: str
    file: str
    problem: str

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "file": self.file, "problem": self.problem}


@dataclass(frozen=True)
class LoadedAdapter:
    """An adapter's verified content in memory: its record, PEFT config (a dict) and tensors by key."""

    record: AdapterRecord
    config: dict[str, Any]
    tensors: dict[str, Any]  # str -> torch.Tensor; typed loosely so this module never imports torch
