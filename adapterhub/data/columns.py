"""Columns of rows (CSV, JSON or a Hugging Face data set): which column holds what, and each cell's value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapterhub.data.labels import normalise_label
from adapterhub.data.messages import EMPTY_FIX, Problems, json_type, names

TEXT_COLUMNS = ("text", "sentence", "review", "content")
LABEL_COLUMNS = ("label", "labels", "class", "category")
TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("tags", "ner_tags", "labels")
PROMPT_COLUMNS = ("instruction", "prompt")
INPUT_COLUMNS = ("input", "context")
RESPONSE_COLUMNS = ("output", "response", "completion")


class BadValue(Exception):
    """A cell that cannot become an example's field."""


def find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first candidate among the columns, exactly, else ignoring case and surrounding spaces."""
    for name in candidates:
        if name in columns:
            return name
    folded = {column.strip().lower(): column for column in reversed(columns)}
    return next((folded[name] for name in candidates if name in folded), None)


def choose_column(
    source: str,
    columns: Sequence[str],
    given: str | None,
    candidates: Sequence[str],
    what: str,
    flag: str,
    problems: Problems,
    hint: str,
) -> str | None:
    if given is not None:
        if given in columns:
            return given
        problems.add(
            f"{source}: no column {given!r} (from {flag}); its columns are {names(columns)}{hint}",
            f"pass one of its columns to {flag}",
        )
        return None
    found = find(columns, candidates)
    if found is None:
        problems.add(
            f"{source}: no {what} column (looked for {', '.join(candidates)}); its columns are {names(columns)}{hint}",
            f"name the {what} column with {flag} COLUMN",
        )
    return found


def optional_text(row: dict[str, Any], column: str, where: str, problems: Problems) -> str | None:
    """The text of one cell (``""`` when missing), or None after noting a cell that is not text."""
    try:
        return _text_value(row.get(column))
    except BadValue as exc:
        problems.add(f"{where}: column {column!r} {exc}", "give that column text")
        return None


def cell(row: dict[str, Any], column: str, where: str, problems: Problems) -> str | None:
    """The non-empty text of one cell, or None after noting the problem."""
    value = optional_text(row, column, where, problems)
    if value is None:
        return None
    if not value.strip():
        problems.add(f"{where}: empty {column!r}", EMPTY_FIX)
        return None
    return value


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise BadValue(f"is a JSON {json_type(value)}, not text")


def label_value(value: Any) -> str:
    """A label as a string: ``1``, ``1.0`` and ``"1"`` all give ``"1"``; ``""`` when missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return normalise_label(value)
    raise BadValue(f"label is a JSON {json_type(value)}, not one value")
