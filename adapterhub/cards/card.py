"""The card: everything known about one adapter version, stored as ``card.json`` beside the PEFT files.

The card is part of the registry's on-disk contract. ``FORMAT`` is bumped only together with a migration
in :data:`MIGRATIONS` that upgrades older cards when they are read.

What inference needs to run an adapter as it was trained (how far inputs are cut, how a classifier pools, how
prompts are wrapped, the base's quantization) is the typed :class:`InferenceSettings` on ``Card.inference``;
every default lives there, once. ``hyperparameters`` records the training run; inference does not read it.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from adapterhub.errors import RegistryCorrupt

FORMAT = 3
CARD_FILE = "card.json"

DEFAULT_MAX_LENGTH = 512  # tokens, for a card that does not say (an adapter imported from elsewhere)
POOLINGS = ("mean", "cls", "last")
QUANTIZATIONS = ("4bit", "8bit")


@dataclass(frozen=True)
class InferenceSettings:
    """How inference runs an adapter, as it was trained: the one place these settings and their defaults live.

    Attributes:
        max_length: Longest input in tokens; longer inputs are cut (a prompt keeps its last tokens).
        pooling: How a sequence classifier turns token states into one vector: ``mean``, ``cls`` (first token)
            or ``last`` (last real token). None: as the base pools (``adapterhub.models.pooling_for``, decided
            when the base loads), which is what cards written before format 3 meant.
        prompt_template: For generation, the text prompts are wrapped in, with ``{prompt}`` where the prompt
            goes; ``""`` sends prompts as they are; None: the task's own template.
        quantize: The base's quantization the adapter was trained on (``4bit``, ``8bit``), None for full
            precision; inference loads the base the same way.
    """

    max_length: int = DEFAULT_MAX_LENGTH
    pooling: Literal["mean", "cls", "last"] | None = None
    prompt_template: str | None = None
    quantize: Literal["4bit", "8bit"] | None = None

    def problems(self) -> list[str]:
        """What is wrong with these settings, one phrase each (for publishing and ``verify``)."""
        out = []
        if not isinstance(self.max_length, int) or isinstance(self.max_length, bool) or self.max_length < 1:
            out.append(f"inference.max_length must be a positive integer, not {self.max_length!r}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            out.append(f"inference.pooling must be one of {', '.join(POOLINGS)} or null, not {self.pooling!r}")
        if self.quantize is not None and self.quantize not in QUANTIZATIONS:
            out.append(f"inference.quantize must be {' or '.join(QUANTIZATIONS)} or null, not {self.quantize!r}")
        template = self.prompt_template
        if template is not None and not isinstance(template, str):
            out.append(f"inference.prompt_template must be a string or null, not {template!r}")
        elif template:
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
            except ValueError:
                names = set()
            if names != {"prompt"}:
                out.append(
                    f"inference.prompt_template {template[:40]!r} must hold {{prompt}} as its only field "
                    "(write other braces as {{ and }})"
                )
        return out


def _add_history_fields(card: dict[str, Any]) -> dict[str, Any]:
    """Format 2 added the training curve, the evaluation history and the lineage of merged adapters."""
    return {**card, "history": card.get("history", []), "evaluations": [], "lineage": []}


def _add_inference_settings(card: dict[str, Any]) -> dict[str, Any]:
    """Format 3 added the typed inference settings, taken from the run's hyperparameters where they were recorded
    (else the defaults). Pooling was never recorded: inference chose it from the base, which None still means."""
    hyper = card.get("hyperparameters") or {}
    settings: dict[str, Any] = {"max_length": hyper.get("max_length") or DEFAULT_MAX_LENGTH, "pooling": None}
    settings["prompt_template"] = hyper.get("prompt_template")  # absent: the task's own template, as before
    settings["quantize"] = hyper.get("quantize") or None
    return {**card, "inference": settings}


# MIGRATIONS[n] turns a card dict of format n into format n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _add_history_fields, 2: _add_inference_settings}


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
    inference: InferenceSettings = field(default_factory=InferenceSettings)
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
        data["inference"] = InferenceSettings(**data.get("inference") or {})
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
