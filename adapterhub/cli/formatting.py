"""Plain-text tables and human units. Hand-made so that listing 10,000 versions stays instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, like ``docker images``."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in [headers, *rows]]
    return "\n".join(lines)


def examples(*commands: str) -> str:
    """An ``Examples:`` block for a command's help, printed as written (click rewraps every other paragraph)."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


def size(num_bytes: int) -> str:
    """Decimal units, as docker prints them: 12.3kB, 4.5MB."""
    value = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def count(n: int) -> str:
    """1090 -> 1.1K, 294912 -> 294.9K, 22713216 -> 22.7M."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def age(iso: str, now: datetime | None = None) -> str:
    """'2 minutes ago' from an ISO time stamp."""
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return iso or "-"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, span in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= span:
            n = seconds // span
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"
