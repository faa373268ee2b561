"""One data file read by its extension: CSV/TSV rows, JSON lines or arrays, CoNLL, ``<label> <text>`` or plain lines."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from adapterhub.data.conll import conll_examples
from adapterhub.data.examples import Example, GenerationExample, TextExample
from adapterhub.data.labels import normalise_label
from adapterhub.data.messages import EMPTY_FIX, Problems, json_type, short
from adapterhub.data.records import Record, record_examples
from adapterhub.data.text_files import read_lines
from adapterhub.errors import ConfigError

_LABEL_LINE = re.compile(r"([^ \t]+)[ \t]+(.*)")


def read_file(
    kind: str, path: Path, text_column: str | None, label_column: str | None, problems: Problems
) -> list[Example]:
    ext = path.suffix.lower()
    if kind == "tokens" and ext == ".csv":
        raise ConfigError(
            f"{path}: token data is read as CoNLL (one 'token<TAB>TAG' a line) or JSON lines with tokens and tags "
            "lists, not CSV; convert it to .conll"
        )
    if kind != "tokens" and ext in (".conll", ".bio"):
        raise ConfigError(
            f"{path} is a CoNLL token file for the ner task; a {kind} task reads .csv, .tsv, .jsonl, .json or .txt"
        )
    lines = read_lines(path)
    if not any(line.strip() for line in lines):
        problems.add(f"{path} is empty", "give a file with examples (or remove the empty file from the folder)")
        return []
    if ext in (".jsonl", ".json"):
        records, columns = _json_records(path, lines, problems), None
    elif ext in (".csv", ".tsv") and kind != "tokens":
        records, columns = _csv_records(path, lines, "\t" if ext == ".tsv" else ",", problems)
    elif kind == "tokens":
        return conll_examples(path, lines, problems)
    elif kind == "generation":
        return [GenerationExample("", line) for line in lines if line.strip()]
    else:
        return _label_line_examples(path, lines, problems)
    if not records:
        if columns is not None:
            problems.add(f"{path} has a header row but no examples", "add rows below the header")
        return []
    hint = " (the first row of a .csv/.tsv file must be a header)" if columns is not None else ""
    return record_examples(kind, str(path), records, columns, text_column, label_column, problems, hint)


def _csv_records(path: Path, lines: list[str], delimiter: str, problems: Problems) -> tuple[list[Record], list[str]]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader((line + "\n" for line in lines), delimiter=delimiter, quoting=quoting)
    header: list[str] | None = None
    records: list[Record] = []
    start = 1
    try:
        for row in reader:
            where, start = f"{path}:{start}", reader.line_num + 1
            if not row:
                continue
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                fix = (
                    "a .tsv field cannot hold a tab" if delimiter == "\t" else "wrap fields that hold a comma in quotes"
                )
                problems.add(
                    f"{where}: {len(row)} fields but the header has {len(header)}",
                    f"give every row one field per header column ({fix})",
                )
                continue
            records.append((where, dict(zip(header, row, strict=True))))
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: {exc}; check the quoting of that line") from exc
    return records, header or []


def _json_records(path: Path, lines: list[str], problems: Problems) -> list[Record]:
    fix = "write one JSON object a line (JSON lines), or a .json file holding one array of objects"
    first = next(line for line in lines if line.strip())
    if path.suffix.lower() == ".json" and first.lstrip().startswith("["):
        try:
            items = json.loads("\n".join(lines))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {fix}") from exc
        if not isinstance(items, list):
            raise ConfigError(f"{path} is not a JSON array of objects; {fix}")
        records = [(f"{path} item {i}", item) for i, item in enumerate(items, 1)]
    else:
        records = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}:{n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.add(f"{path}:{n}: not valid JSON ({exc.msg})", fix)
    good = []
    for where, item in records:
        if isinstance(item, dict):
            good.append((where, item))
        else:
            problems.add(f"{where}: a JSON {json_type(item)}, not an object", fix)
    return good


def _label_line_examples(path: Path, lines: list[str], problems: Problems) -> list[Example]:
    examples: list[Example] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _LABEL_LINE.fullmatch(line.strip(" \t"))
        if match is None:
            problems.add(
                f"{path}:{n}: expected '<label> <text>' (e.g. '1 a gripping film'), got {short(line)}",
                "write one '<label> <text>' a line, or use a .csv/.jsonl file with text and label columns",
            )
            continue
        label, text = match.groups()
        if not text.strip():
            problems.add(f"{path}:{n}: empty text after label {short(label)}", EMPTY_FIX)
            continue
        examples.append(TextExample(text, normalise_label(label)))
    return examples
