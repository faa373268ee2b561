"""Alias targets: one version (``sentiment:prod`` -> 3) or a weighted split between versions (a canary).

``NAME/aliases.json`` maps each alias to its target::

    {"prod": 3}                            a plain alias: the version number, exactly as it has always been stored
    {"canary": "weighted 3=0.9 4=0.1"}     a weighted alias: "weighted", then VERSION=WEIGHT by version

A weighted alias is stored as a string on purpose: an adapterhub that predates weights reads every value with
``int()``, so it refuses the whole file with one line ("unreadable .../aliases.json: invalid literal for int()
... 'weighted 3=0.9 4=0.1'", exit 5) instead of reading the split as one version, and it removes nothing an
alias protects while it cannot read the file. Weights are written as Python writes floats (the shortest text
that reads back to the same number), so a split reads back exactly as it was written.

A split routes each request to one of its versions: with a key (the caller's id), the sha256 of the alias and
the key gives a point in [0, 1) and the version whose cumulative weight first passes it answers, versions in
ascending order. One caller therefore always gets the same version, and moving the weights moves only the
callers whose point lies between the old and the new boundary. Without a key the point is random.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapterhub.errors import ConfigError

PREFIX = "weighted"
TOLERANCE = 1e-6  # how far the weights of a split may sum from 1
_random = random.Random()


@dataclass(frozen=True)
class Split:
    """A weighted alias: ``weights`` are (version, weight) pairs in ascending version order, summing to 1.

    Example:
        >>> split = Split.of({3: 0.9, 4: 0.1})
        >>> split.encode()
        'weighted 3=0.9 4=0.1'
        >>> split.pick(0.95), Split.decode(split.encode()) == split
        (4, True)
    """

    weights: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        versions = [v for v, _ in self.weights]
        if len(versions) < 2:
            raise ConfigError("a weighted alias splits traffic between at least two versions")
        if len(set(versions)) != len(versions):
            twice = sorted({v for v in versions if versions.count(v) > 1})
            raise ConfigError(f"version {twice[0]} appears twice in the split; name each version once")
        if versions != sorted(versions):
            raise ConfigError("a split lists its versions in ascending order")
        for version, weight in self.weights:
            if not math.isfinite(weight) or not 0 < weight <= 1:
                raise ConfigError(
                    f"the weight of version {version} is {weight:g}; each weight is above 0 and at most 1"
                )
        total = math.fsum(w for _, w in self.weights)
        if abs(total - 1) > TOLERANCE:
            shown = " + ".join(f"{w:g}" for _, w in self.weights)
            raise ConfigError(
                f"the weights sum to {total:.6g} ({shown}), not 1; make them add up to 1 (e.g. 0.9 and 0.1)"
            )

    @classmethod
    def of(cls, weights: dict[int, float]) -> Split:
        """A split from ``{version: weight}``, in any order."""
        return cls(tuple(sorted((int(v), float(w)) for v, w in weights.items())))

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(v for v, _ in self.weights)

    def weight(self, version: int) -> float:
        """The weight of ``version`` (0 when it is not in the split)."""
        return dict(self.weights).get(version, 0.0)

    def pick(self, point: float) -> int:
        """The version whose cumulative weight first passes ``point`` (in [0, 1))."""
        total = 0.0
        for version, weight in self.weights:
            total += weight
            if point < total:
                return version
        return self.weights[-1][0]  # a point the rounding of the sum left above it

    def route(self, alias: str, key: str | None) -> int:
        """The version that answers a request for ``alias`` (``NAME:ALIAS``): sticky by ``key``, else random."""
        return self.pick(point(alias, key) if key is not None else _random.random())

    def encode(self) -> str:
        """The value stored in ``aliases.json``."""
        return " ".join([PREFIX, *(f"{v}={w!r}" for v, w in self.weights)])

    @classmethod
    def decode(cls, text: str) -> Split:
        """Read :meth:`encode`'s text back; ``ValueError`` (or :class:`ConfigError`) when it is not one."""
        head, *pairs = text.split(" ")
        if head != PREFIX or not pairs:
            raise ValueError(f"{text!r} is neither a version nor '{PREFIX} VERSION=WEIGHT ...'")
        weights = []
        for pair in pairs:
            version, sep, weight = pair.partition("=")
            if not sep or not version.isascii() or not version.isdigit():
                raise ValueError(f"{pair!r} in {text!r} is not VERSION=WEIGHT")
            weights.append((int(version), float(weight)))
        return cls(tuple(weights))

    def __str__(self) -> str:
        return " ".join(f"@{v}={w:g}" for v, w in self.weights)


Target = int | Split  # what an alias points to


def decode(value: object) -> Target:
    """An ``aliases.json`` value as a target; ``ValueError`` when it is neither a version nor a split."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is neither a version nor '{PREFIX} VERSION=WEIGHT ...'")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{value!r} is not a version")
        return value
    try:
        return Split.decode(value)
    except ConfigError as exc:
        raise ValueError(f"{value!r}: {exc}") from None


def encode(target: Target) -> int | str:
    """A target as ``aliases.json`` stores it (a plain alias as its version number, as always)."""
    return target.encode() if isinstance(target, Split) else target


def versions_of(target: Target) -> tuple[int, ...]:
    """Every version ``target`` sends requests to."""
    return target.versions if isinstance(target, Split) else (target,)


def point(alias: str, key: str) -> float:
    """Where ``key`` falls in [0, 1) for ``alias``: the first 8 bytes of sha256(alias NUL key)."""
    digest = hashlib.sha256(f"{alias}\0{key}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class AliasCache:
    """The aliases of each name as a registry holds them, for request paths: ``aliases.json`` is looked at (one
    ``stat``) at most once every ``interval`` seconds per name, and read again only when it changed (a writer
    replaces the file, so its inode changes with every change). A change made by another process is therefore
    seen within ``interval`` seconds.

    Args:
        read: Reads the aliases of a name (``Registry.aliases``).
        folder: The folder of a name (``aliases.json`` lives there).
        interval: Seconds a name's aliases are used without looking at the file.
        clock: Monotonic seconds (tests pass their own).
    """

    FILE = "aliases.json"

    def __init__(
        self,
        read: Callable[[str], dict[str, Target]],
        folder: Callable[[str], Path],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read, self._folder, self.interval, self._clock = read, folder, interval, clock
        self._entries: dict[str, tuple[float, tuple[int, int, int] | None, dict[str, Target]]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, *, fresh: bool = False) -> dict[str, Target]:
        """The aliases of ``name``; ``fresh`` looks at the file now."""
        now = self._clock()
        entry = self._entries.get(name)  # a plain dict read: no lock on the hot path
        if entry is not None and not fresh and now - entry[0] < self.interval:
            return entry[2]
        signature = _signature(self._folder(name) / self.FILE)
        if entry is not None and signature == entry[1]:
            aliases = entry[2]
        else:
            aliases = self._read(name) if signature is not None else {}
        with self._lock:
            self._entries[name] = (now, signature, aliases)
        return aliases


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
