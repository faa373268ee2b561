"""Frozen records that the registry hands out; none of them holds tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapterhub.registry.card import Card


@dataclass(frozen=True)
class AdapterRecord:
    """One published adapter version: where it lives, its card and the aliases that point to it."""

    name: str
    version: int
    path: Path
    card: Card
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The exact reference of this version, e.g. ``sentiment@3``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "path": str(self.path), "aliases": list(self.aliases), **self.card.to_dict()}


@dataclass(frozen=True)
class RemovalPlan:
    """What a removal deletes, planned before anything is touched (which gives ``--dry-run`` for free)."""

    versions: tuple[AdapterRecord, ...]
    aliases: tuple[str, ...]  # "name:alias" entries that go with them
    executed: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(record.card.size_bytes for record in self.versions)


@dataclass(frozen=True)
class Problem:
    """One thing ``verify`` found wrong: the version (or the index), the file and what is wrong with it."""

    where: str
    file: str
    problem: str


@dataclass(frozen=True)
class LoadedAdapter:
    """An adapter's verified content in memory: its record, PEFT config (a dict) and tensors by key."""

    record: AdapterRecord
    config: dict[str, Any]
    tensors: dict[str, Any]  # str -> torch.Tensor; typed loosely so this module never imports torch
