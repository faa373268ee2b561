"""One-line :class:`ConfigError` messages: the problems of one source raised together, and values quoted short."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapterhub.errors import ConfigError

_LIMIT = 5  # problems quoted in one message; the rest are counted
EMPTY_FIX = "fill in or delete those lines"


class Problems:
    """Problems of one source, raised together as one line: the first few quoted, the rest counted."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.fixes: list[str] = []
        self.count = 0

    def add(self, message: str, fix: str) -> None:
        self.count += 1
        if len(self.messages) < _LIMIT:
            self.messages.append(message)
        if fix not in self.fixes:
            self.fixes.append(fix)

    def check(self) -> None:
        if self.count:
            more = f" (and {self.count - len(self.messages)} more)" if self.count > len(self.messages) else ""
            raise ConfigError("; ".join(self.messages) + more + "; " + "; ".join(self.fixes))


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def short(value: Any, width: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= width else text[:width] + "…")


def names(values: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "") if values else "(none)"
