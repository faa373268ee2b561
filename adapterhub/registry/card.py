"""The card: everything known about one adapter version, stored as ``card.json`` beside the PEFT files.

The card is part of the registry's on-disk contract. ``FORMAT`` is bumped only together with a migration
in :data:`MIGRATIONS` that upgrades older cards when they are read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from adapterhub.errors import RegistryCorrupt

FORMAT = 2
CARD_FILE = "card.json"


def _add_history_fields(card: dict[str, Any]) -> dict[str, Any]:
    """Format 2 added the training curve, the evaluation history and the lineage of merged adapters."""
    return {**card, "history": card.get("history", []), "evaluations": [], "lineage": []}


# MIGRATIONS[n] turns a card dict of format n into format n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _add_history_fields}


@dataclass(frozen=True)
class BaseInfo:
    """The frozen base an adapter was made for: its id (hub id or path) and the fingerprint of its weights."""

    id: str
    fingerprint: str


@dataclass(frozen=True)
class DataInfo:
    """What an adapter was trained on: a description, a fingerprint of the examples and their counts."""

    description: str = ""
    fingerprint: str = ""
    train_examples: int = 0
    eval_examples: int = 0


@dataclass(frozen=True)
class FileInfo:
    """One file of a version directory: its sha256 and size in bytes."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Card:
    """Metadata of one adapter version.

    Callers of :meth:`Registry.publish` fill the descriptive fields; the registry fills ``name``,
    ``version``, ``files``, ``size_bytes``, ``trainable_params`` and ``created`` when it publishes.
    """

    task: str
    method: str
    base: BaseInfo
    task_type: str = ""
    labels: tuple[str, ...] = ()
    method_config: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    headline_metric: str = ""
    data: DataInfo = field(default_factory=DataInfo)
    tags: tuple[str, ...] = ()
    # one dict per evaluation during training: step, epoch, train_loss and the eval metrics (the learning curve)
    history: tuple[dict[str, Any], ...] = ()
    # `hub eval` results appended after publishing: when, data description and fingerprint, metrics
    evaluations: tuple[dict[str, Any], ...] = ()
    # for merged adapters: the versions merged, with their content hashes and weights
    lineage: tuple[dict[str, Any], ...] = ()
    name: str = ""
    version: int = 0
    trainable_params: int = 0
    files: dict[str, FileInfo] = field(default_factory=dict)
    size_bytes: int = 0
    created: str = ""
    adapterhub_version: str = ""
    format: int = FORMAT

    @property
    def headline(self) -> tuple[str, float] | None:
        """The headline metric as (name, value), or None when the card has no metric."""
        key = self.headline_metric or next(iter(self.metrics), "")
        return (key, self.metrics[key]) if key in self.metrics else None

    @property
    def content_hash(self) -> str:
        """sha256 over the sha256 of every file: equal exactly when two versions hold the same bytes."""
        lines = "".join(f"{name}:{info.sha256}\n" for name, info in sorted(self.files.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("labels", "tags", "history", "evaluations", "lineage"):
            data[key] = list(data[key])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        data = _migrate(dict(data))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown card fields {unknown}")
        data["base"] = BaseInfo(**data["base"])
        data["data"] = DataInfo(**data.get("data") or {})
        data["files"] = {k: FileInfo(**v) for k, v in (data.get("files") or {}).items()}
        for key in ("labels", "tags", "history", "evaluations", "lineage"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "card") -> Card:
        """Parse a card; a card that cannot be read raises :class:`RegistryCorrupt` naming ``where``."""
        try:
            return cls.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise RegistryCorrupt(
                f"unreadable card {where}: {exc}; run `hub registry verify` to list damaged versions"
            ) from exc


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("format", FORMAT)
    if not isinstance(version, int) or version > FORMAT:
        raise ValueError(f"card format {version} is newer than this adapterhub reads ({FORMAT}); upgrade adapterhub")
    while version < FORMAT:
        data = MIGRATIONS[version](data)
        version += 1
        data["format"] = version
    return data
