"""What ``hub`` prints: every line goes through :func:`echo`; plain-text tables and human units, hand-made so that
listing 10,000 versions stays instant.

Much of what commands print was written by someone else: a client's input in the prediction log, a server's
answer, the fields of a card pulled from a remote. A control character in it (ESC starts the sequences that set a
terminal's title, move its cursor or clear its screen) is shown as an escape, as ``git`` and ``ls`` show them,
never sent to the terminal raw.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import typer

# C0 (but tab and newline), DEL, C1, and lone surrogates (which no terminal encoding can write)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # tab and newline too
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}")


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with its control characters shown as Python-style escapes (ESC as ``\\x1b``, CR as ``\\r``), but
    for the tabs and newlines that lay out multi-line output; ``one_line`` escapes those too.

    >>> visible("\\x1b]0;title\\x07 fine")
    '\\\\x1b]0;title\\\\x07 fine'
    """
    return (_CONTROL_ALL if one_line else _CONTROL).sub(_escape, text)


def echo(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` and a newline on stdout (stderr with ``err``), control characters escaped (see
    :func:`visible`). Every line a command prints goes through here."""
    typer.echo(visible(text), err=err)


def echo_json(data: Any, **options: Any) -> None:
    """Print ``data`` as indented JSON (``options`` go to :func:`json.dumps`). JSON escapes C0 itself; DEL, C1 and
    lone surrogates, which it leaves raw with ``ensure_ascii=False``, become ``\\u`` escapes: valid JSON that
    decodes to the same text."""
    text = json.dumps(data, indent=2, **options)  # its only raw tabs and newlines are its own layout
    echo(_CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, like ``docker images``; a cell is one line, its
    control characters escaped (tabs and newlines too)."""
    headers = [visible(h, one_line=True) for h in headers]
    rows = [[visible(cell, one_line=True) for cell in row] for row in rows]
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
