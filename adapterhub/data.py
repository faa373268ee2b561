"""Training data for tasks: files, folders or ``hf:NAME[:CONFIG]`` read into examples and checked before training.

Formats, chosen by extension:

- ``.csv`` / ``.tsv``: a header row, then one example a row (a ``.tsv`` has no quoting, as in GLUE).
- ``.jsonl`` / ``.json``: JSON lines, one object a line (a ``.json`` file may also hold one array of objects).
- ``.conll`` / ``.bio``, and any other extension for kind ``tokens``: one ``token<TAB or spaces>TAG`` a line, the
  token the first field and the tag the last, sentences split by empty or whitespace-only lines.
- ``.txt`` and any other extension: ``<label> <text>`` lines for kind ``text`` (the SST format), one plain-text
  example a line for kind ``generation``.

Files are decoded as strict UTF-8 and split on ``\\n`` only; every problem becomes one :class:`ConfigError` of
one line that names the file, the line and the fix, with several problems of one source reported together.
This module imports neither torch nor transformers; ``datasets`` is imported only for ``hf:`` sources.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import random
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from adapterhub.errors import ConfigError

__all__ = [
    "DataSplit",
    "Example",
    "GenerationExample",
    "Kind",
    "TextExample",
    "TokenExample",
    "label_counts",
    "load_data",
    "read_examples",
]

Kind = Literal["text", "tokens", "generation"]
KINDS = ("text", "tokens", "generation")

TEXT_COLUMNS = ("text", "sentence", "review", "content")
LABEL_COLUMNS = ("label", "labels", "class", "category")
TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("tags", "ner_tags", "labels")
PROMPT_COLUMNS = ("instruction", "prompt")
INPUT_COLUMNS = ("input", "context")
RESPONSE_COLUMNS = ("output", "response", "completion")

_NOUN = {"text": "examples", "tokens": "sentences", "generation": "examples"}
_LIMIT = 5  # problems quoted in one message; the rest are counted
_BIO = re.compile(r"O|[BI]-\S+")
_INTEGER = re.compile(r"[+-]?\d+")
_INTEGRAL_FLOAT = re.compile(r"[+-]?\d+\.0*")
_LABEL_LINE = re.compile(r"([^ \t]+)[ \t]+(.*)")
_FIELDS = re.compile(r"[ \t]+")
_NOT_DATA = re.compile(r"(readme|licen[cs]e|copying|notice|sha\d*sums|md5sums)(\..*)?|.*\.md", re.IGNORECASE)


@dataclass(frozen=True)
class TextExample:
    """One text with its class label (``sentiment``, ``classify``)."""

    text: str
    label: str


@dataclass(frozen=True)
class TokenExample:
    """One sentence as words with one BIO tag each (``ner``)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class GenerationExample:
    """One prompt and the response to learn (``generate``); plain text has ``prompt == ""``."""

    prompt: str
    response: str


Example = TextExample | TokenExample | GenerationExample


@dataclass(frozen=True)
class DataSplit:
    """Training and evaluation examples of one run, with what the card records about them.

    Attributes:
        train: Examples to train on, in file order.
        eval: Examples to evaluate on, in file order.
        labels: Label names in class-index order: sorted label values for kind ``text`` (numeric order when all
            are integers), sorted BIO tags with ``"O"`` first for ``tokens``, ``()`` for ``generation``.
        description: Where the data came from and how eval was chosen, for the card.
        fingerprint: ``"sha256:<hex>"`` over train and eval (order-sensitive).
    """

    train: tuple[Example, ...]
    eval: tuple[Example, ...]
    labels: tuple[str, ...]
    description: str
    fingerprint: str


def load_data(
    kind: Kind,
    data: str | Path | None,
    *,
    eval_data: str | Path | None = None,
    eval_fraction: float = 0.1,
    seed: int = 13,
    text_column: str | None = None,
    label_column: str | None = None,
    default: str | Path | None = None,
) -> DataSplit:
    """Read and check the training data of a task, and choose its eval examples.

    Args:
        kind: Which examples to read: ``"text"``, ``"tokens"`` or ``"generation"``.
        data: A file, a folder (its data files sorted by name, concatenated) or ``hf:NAME[:CONFIG]``.
        eval_data: Eval examples, read like ``data``; default: the ``validation`` (else ``test``) split of an
            ``hf:`` data set, else a seeded random ``eval_fraction`` of ``data``, stratified by label for text.
        eval_fraction: Share of ``data`` held out for eval when there is no eval data, in (0, 0.5].
        seed: Seed of that split.
        text_column: Column of the text (``text``) or of the prompt (``generation``) in CSV, TSV and JSON.
        label_column: Column of the label (``text``) or of the response (``generation``).
        default: Data used when ``data`` is None (a task's embedded data set).

    Returns:
        The examples, labels, description and fingerprint.

    Raises:
        ConfigError: A missing file, undecodable bytes, a missing column, an empty or malformed example, only
            one class, eval labels that training never has, a tag that is not BIO, and the like.

    Example:
        >>> split = load_data("text", "../shared/data/sst/stsa.binary.train")  # doctest: +SKIP
        >>> split.labels, len(split.train), len(split.eval)  # doctest: +SKIP
        (('0', '1'), 6228, 692)
    """
    _check_kind(kind)
    if isinstance(eval_fraction, bool) or not isinstance(eval_fraction, int | float) or not 0 < eval_fraction <= 0.5:
        raise ConfigError(f"--eval-fraction must be in (0, 0.5], got {eval_fraction!r}; e.g. --eval-fraction 0.1")
    if data is None:
        if default is None:
            raise ConfigError(
                "--data is required for this task: give a file, a folder or hf:NAME[:CONFIG], e.g. --data train.csv"
            )
        data, shown = default, f"built-in {Path(default).name}"
    else:
        shown = str(data)
    train, hf_eval, train_desc = _read(
        kind, data, "--data", text_column, label_column, with_eval=eval_data is None, shown=shown
    )
    source = str(data)
    if kind == "text":
        classes = _sort_labels(_labels(train))
        if len(classes) < 2:
            raise ConfigError(
                f"{source}: every training example has the label {classes[0]!r}; a classifier needs at least two "
                "classes: add examples of the others, or pick the label with --label-column"
            )
    if eval_data is not None:
        evals, _, eval_desc = _read(kind, eval_data, "--eval-data", text_column, label_column, with_eval=False)
        note = f"eval: {eval_desc}"
    elif hf_eval is not None:
        evals, note = hf_eval
    else:
        train, evals = _split(kind, train, eval_fraction, seed, source)
        note = f"eval: {eval_fraction * 100:g}% seeded split (seed {seed})"
    labels: tuple[str, ...] = ()
    eval_source = eval_data or "the eval split"
    if kind == "text":
        labels = _sort_labels(_labels(train))
        _check_eval_labels(labels, _labels(evals), "labels", eval_source)
    elif kind == "tokens":
        labels = ("O", *sorted(set(_labels(train)) - {"O"}))
        _check_eval_labels(labels, _labels(evals), "tags", eval_source)
    train_t, eval_t = tuple(train), tuple(evals)
    return DataSplit(train_t, eval_t, labels, f"{train_desc}; {note}", _fingerprint(train_t, eval_t))


def read_examples(
    kind: Kind, data: str | Path, *, text_column: str | None = None, label_column: str | None = None
) -> tuple[Example, ...]:
    """Every example of a file, a folder or ``hf:NAME[:CONFIG]`` (its train split), checked as :func:`load_data` does.

    Args:
        kind: ``"text"``, ``"tokens"`` or ``"generation"``.
        data: What to read.
        text_column: As in :func:`load_data`.
        label_column: As in :func:`load_data`.

    Raises:
        ConfigError: As :func:`load_data` (but one class is fine here).
    """
    _check_kind(kind)
    examples, _, _ = _read(kind, data, "--data", text_column, label_column, with_eval=False)
    return tuple(examples)


def label_counts(examples: Iterable[Example]) -> dict[str, int]:
    """How many text examples each label has, in class-index order.

    >>> label_counts([TextExample("bad", "0"), TextExample("good", "1"), TextExample("fine", "1")])
    {'0': 1, '1': 2}
    """
    counts: Counter[str] = Counter()
    for ex in examples:
        if not isinstance(ex, TextExample):
            raise TypeError(f"label_counts counts TextExample labels, got {type(ex).__name__}")
        counts[ex.label] += 1
    return {label: counts[label] for label in _sort_labels(counts)}


# ---------------------------------------------------------------------------------------------- sources


class _Problems:
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


Record = tuple[str, Any]  # (where: "file:line", the parsed row)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown data kind {kind!r}: use one of {', '.join(KINDS)}")


def _read(
    kind: str,
    data: str | Path,
    flag: str,
    text_column: str | None,
    label_column: str | None,
    *,
    with_eval: bool,
    shown: str | None = None,
) -> tuple[list[Example], tuple[list[Example], str] | None, str]:
    """Examples of ``data``, the eval examples an ``hf:`` source brings (with its note) and a description."""
    noun = _NOUN[kind]
    if isinstance(data, str) and data.startswith("hf:"):
        return _read_hf(kind, data, flag, text_column, label_column, with_eval=with_eval)
    files = _files(data, flag)
    problems = _Problems()
    examples: list[Example] = []
    for path in files:
        examples += _read_file(kind, path, text_column, label_column, problems)
    problems.check()
    if not examples:
        raise ConfigError(f"{data} holds no {noun}; give data with {flag}")
    shown = shown or str(data)
    if len(files) > 1 or Path(data).is_dir():
        return examples, None, f"{shown} ({len(files)} files, {len(examples)} {noun})"
    return examples, None, f"{shown} ({len(examples)} {noun})"


def _files(data: str | Path, flag: str) -> list[Path]:
    path = Path(data).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            (
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and not _NOT_DATA.fullmatch(p.name)
            ),
            key=lambda p: p.name,
        )
        if not files:
            raise ConfigError(
                f"folder {data} holds no data files; put .csv, .tsv, .jsonl, .conll or .txt files in it, "
                f"or give one file with {flag}"
            )
        return files
    if path.exists():
        raise ConfigError(f"{data} is neither a file nor a folder; give a data file or folder with {flag}")
    raise ConfigError(
        f"data file or folder {data} does not exist (relative to {Path.cwd()}); check the path given to {flag}"
    )


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, split on ``\\n`` only (a trailing ``\\r`` dropped), a leading BOM dropped."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; check that it is readable") from exc
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")  # strict; b"\n" never occurs inside a UTF-8 sequence, so lines split the same
    except UnicodeDecodeError as exc:
        raise ConfigError(_encoding_message(path, raw, exc)) from None
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _encoding_message(path: Path, raw: bytes, exc: UnicodeDecodeError) -> str:
    line = raw.count(b"\n", 0, exc.start) + 1
    column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    bad = 0
    for chunk in raw.split(b"\n"):
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    others = f" ({bad - 1} more lines are not UTF-8 either)" if bad > 1 else ""
    target = f"{path.stem}.utf8{path.suffix}"  # in the working directory: the data folder may be read-only
    return (
        f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not UTF-8{others}; re-encode the file "
        f"to UTF-8, e.g. iconv -f cp1252 -t utf-8 {shlex.quote(str(path))} > {shlex.quote(target)}"
    )


def _read_file(
    kind: str, path: Path, text_column: str | None, label_column: str | None, problems: _Problems
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
    lines = _read_lines(path)
    if not any(line.strip() for line in lines):
        problems.add(f"{path} is empty", "give a file with examples (or remove the empty file from the folder)")
        return []
    if ext in (".jsonl", ".json"):
        records, columns = _json_records(path, lines, problems), None
    elif ext in (".csv", ".tsv") and kind != "tokens":
        records, columns = _csv_records(path, lines, "\t" if ext == ".tsv" else ",", problems)
    elif kind == "tokens":
        return _conll_examples(path, lines, problems)
    elif kind == "generation":
        return [GenerationExample("", line) for line in lines if line.strip()]
    else:
        return _label_line_examples(path, lines, problems)
    if not records:
        if columns is not None:
            problems.add(f"{path} has a header row but no examples", "add rows below the header")
        return []
    hint = " (the first row of a .csv/.tsv file must be a header)" if columns is not None else ""
    return _record_examples(kind, str(path), records, columns, text_column, label_column, problems, hint)


def _csv_records(path: Path, lines: list[str], delimiter: str, problems: _Problems) -> tuple[list[Record], list[str]]:
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


def _json_records(path: Path, lines: list[str], problems: _Problems) -> list[Record]:
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
            problems.add(f"{where}: a JSON {_json_type(item)}, not an object", fix)
    return good


def _conll_examples(path: Path, lines: list[str], problems: _Problems) -> list[Example]:
    sentences: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    before = problems.count
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                sentences.append(TokenExample(tuple(tokens), tuple(tags)))
                tokens, tags = [], []
            continue
        fields = _FIELDS.split(line.strip(" \t"))
        if len(fields) < 2:
            problems.add(
                f"{path}:{n}: token {_short(fields[0])} has no tag",
                "write one 'token<TAB>TAG' a line, with a blank line between sentences",
            )
            continue
        tag = fields[-1]
        if not _BIO.fullmatch(tag):
            problems.add(f"{path}:{n}: tag {_short(tag)} is not BIO", _BIO_FIX)
            continue
        tokens.append(fields[0])
        tags.append(tag)
    if tokens:
        sentences.append(TokenExample(tuple(tokens), tuple(tags)))
    if not sentences and problems.count == before:
        problems.add(f"{path} holds no sentences", "write one 'token<TAB>TAG' a line")
    return sentences


_BIO_FIX = "tags must be BIO: O, B-TYPE or I-TYPE (e.g. B-person, I-person)"


def _label_line_examples(path: Path, lines: list[str], problems: _Problems) -> list[Example]:
    examples: list[Example] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _LABEL_LINE.fullmatch(line.strip(" \t"))
        if match is None:
            problems.add(
                f"{path}:{n}: expected '<label> <text>' (e.g. '1 a gripping film'), got {_short(line)}",
                "write one '<label> <text>' a line, or use a .csv/.jsonl file with text and label columns",
            )
            continue
        label, text = match.groups()
        if not text.strip():
            problems.add(f"{path}:{n}: empty text after label {_short(label)}", _EMPTY_FIX)
            continue
        examples.append(TextExample(text, _normalise_label(label)))
    return examples


_EMPTY_FIX = "fill in or delete those lines"


# ---------------------------------------------------------------------------------------------- records


class _BadValue(Exception):
    """A cell that cannot become an example's field."""


def _record_examples(
    kind: str,
    source: str,
    records: list[Record],
    columns: list[str] | None,
    text_column: str | None,
    label_column: str | None,
    problems: _Problems,
    hint: str = "",
    tag_names: Sequence[str] | None = None,
) -> list[Example]:
    """Examples from rows (CSV, JSON or a Hugging Face data set); ``columns`` default to every key seen."""
    if columns is None:
        columns = list(dict.fromkeys(key for _, row in records for key in row))
    if kind == "text":
        return _text_records(source, records, columns, text_column, label_column, problems, hint)
    if kind == "tokens":
        return _token_records(source, records, columns, text_column, label_column, problems, hint, tag_names)
    return _generation_records(source, records, columns, text_column, label_column, problems, hint)


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first candidate among the columns, exactly, else ignoring case and surrounding spaces."""
    for name in candidates:
        if name in columns:
            return name
    folded = {column.strip().lower(): column for column in reversed(columns)}
    return next((folded[name] for name in candidates if name in folded), None)


def _column(
    source: str,
    columns: Sequence[str],
    given: str | None,
    candidates: Sequence[str],
    what: str,
    flag: str,
    problems: _Problems,
    hint: str,
) -> str | None:
    if given is not None:
        if given in columns:
            return given
        problems.add(
            f"{source}: no column {given!r} (from {flag}); its columns are {_names(columns)}{hint}",
            f"pass one of its columns to {flag}",
        )
        return None
    found = _find(columns, candidates)
    if found is None:
        problems.add(
            f"{source}: no {what} column (looked for {', '.join(candidates)}); its columns are {_names(columns)}{hint}",
            f"name the {what} column with {flag} COLUMN",
        )
    return found


def _text_records(
    source: str,
    records: list[Record],
    columns: list[str],
    text_column: str | None,
    label_column: str | None,
    problems: _Problems,
    hint: str,
) -> list[Example]:
    before = problems.count
    text_col = _column(source, columns, text_column, TEXT_COLUMNS, "text", "--text-column", problems, hint)
    label_col = _column(source, columns, label_column, LABEL_COLUMNS, "label", "--label-column", problems, hint)
    if problems.count > before or text_col is None or label_col is None:
        return []
    examples: list[Example] = []
    for where, row in records:
        text = _optional_text(row, text_col, where, problems)
        try:
            label = _label_value(row.get(label_col))
        except _BadValue as exc:
            problems.add(
                f"{where}: {exc} (column {label_col!r})",
                "give every example one label (multi-label data is not supported)",
            )
            continue
        if text is None:
            continue
        if not text.strip():
            problems.add(f"{where}: empty text in column {text_col!r}", _EMPTY_FIX)
        elif not label:
            problems.add(f"{where}: empty label in column {label_col!r}", _EMPTY_FIX)
        else:
            examples.append(TextExample(text, label))
    return examples


def _token_records(
    source: str,
    records: list[Record],
    columns: list[str],
    token_column: str | None,
    tag_column: str | None,
    problems: _Problems,
    hint: str,
    tag_names: Sequence[str] | None,
) -> list[Example]:
    before = problems.count
    token_col = _column(source, columns, token_column, TOKEN_COLUMNS, "tokens", "--text-column", problems, hint)
    tag_col = _column(source, columns, tag_column, TAG_COLUMNS, "tags", "--label-column", problems, hint)
    if problems.count > before or token_col is None or tag_col is None:
        return []
    examples: list[Example] = []
    for where, row in records:
        tokens, tags = row.get(token_col), row.get(tag_col)
        if not isinstance(tokens, list) or not isinstance(tags, list) or not tokens:
            problems.add(
                f"{where}: {token_col!r} and {tag_col!r} must be non-empty lists",
                "give each sentence a list of tokens and a list of as many BIO tags",
            )
            continue
        if len(tokens) != len(tags):
            problems.add(f"{where}: {len(tokens)} tokens but {len(tags)} tags", "give every token exactly one tag")
            continue
        if tag_names is not None:
            tags = [tag_names[t] if isinstance(t, int) and 0 <= t < len(tag_names) else t for t in tags]
        bad = [t for t in tags if not isinstance(t, str) or not _BIO.fullmatch(t)]
        if bad:
            problems.add(f"{where}: tag {_short(bad[0])} is not BIO", _BIO_FIX)
            continue
        examples.append(TokenExample(tuple(str(t) for t in tokens), tuple(tags)))
    return examples


def _generation_records(
    source: str,
    records: list[Record],
    columns: list[str],
    prompt_column: str | None,
    response_column: str | None,
    problems: _Problems,
    hint: str,
) -> list[Example]:
    if prompt_column is None and response_column is None and "instances" in columns:
        return _self_instruct_records(source, records, problems)
    before = problems.count
    response_col: str | None = None
    if response_column is not None:
        response_col = _column(source, columns, response_column, (), "response", "--label-column", problems, hint)
    else:
        response_col = _find(columns, RESPONSE_COLUMNS)
    if problems.count > before:
        return []
    if response_col is None:  # plain text: one column, prompt ""
        if prompt_column is not None:
            text_col = _column(source, columns, prompt_column, (), "text", "--text-column", problems, hint)
        else:
            text_col = _find(columns, ("text",))
        if problems.count > before:
            return []
        if text_col is None:
            problems.add(
                f"{source}: no generation columns (instruction and output or response; Self-Instruct instruction "
                f"and instances; or text); its columns are {_names(columns)}{hint}",
                "name the prompt and response columns with --text-column and --label-column",
            )
            return []
        examples: list[Example] = []
        for where, row in records:
            text = _cell(row, text_col, where, problems)
            if text is not None:
                examples.append(GenerationExample("", text))
        return examples
    prompt_col = _column(source, columns, prompt_column, PROMPT_COLUMNS, "instruction", "--text-column", problems, hint)
    if prompt_col is None:
        return []
    input_col = _find(columns, INPUT_COLUMNS) if prompt_column is None else None
    examples = []
    for where, row in records:
        prompt = _cell(row, prompt_col, where, problems)
        response = _cell(row, response_col, where, problems)
        if prompt is None or response is None:
            continue
        extra = _optional_text(row, input_col, where, problems) if input_col is not None else ""
        if extra is None:
            continue
        examples.append(GenerationExample(f"{prompt}\n\n{extra}" if extra.strip() else prompt, response))
    return examples


def _self_instruct_records(source: str, records: list[Record], problems: _Problems) -> list[Example]:
    examples: list[Example] = []
    for where, row in records:
        instruction = _cell(row, "instruction", where, problems)
        instances = row.get("instances")
        if not isinstance(instances, list) or not instances:
            problems.add(
                f"{where}: 'instances' must be a non-empty list of {{input, output}} objects",
                "give every task at least one instance",
            )
            continue
        for i, instance in enumerate(instances, 1):
            spot = f"{where} instance {i}"
            if not isinstance(instance, dict):
                problems.add(f"{spot}: not an object", "give every instance an input and an output")
                continue
            output = _cell(instance, "output", spot, problems)
            extra = _optional_text(instance, "input", spot, problems)
            if instruction is not None and output is not None and extra is not None:
                examples.append(
                    GenerationExample(f"{instruction}\n\n{extra}" if extra.strip() else instruction, output)
                )
    return examples


def _optional_text(row: dict[str, Any], column: str, where: str, problems: _Problems) -> str | None:
    """The text of one cell (``""`` when missing), or None after noting a cell that is not text."""
    try:
        return _text_value(row.get(column))
    except _BadValue as exc:
        problems.add(f"{where}: column {column!r} {exc}", "give that column text")
        return None


def _cell(row: dict[str, Any], column: str, where: str, problems: _Problems) -> str | None:
    """The non-empty text of one cell, or None after noting the problem."""
    value = _optional_text(row, column, where, problems)
    if value is None:
        return None
    if not value.strip():
        problems.add(f"{where}: empty {column!r}", _EMPTY_FIX)
        return None
    return value


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise _BadValue(f"is a JSON {_json_type(value)}, not text")


def _label_value(value: Any) -> str:
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
        return _normalise_label(value)
    raise _BadValue(f"label is a JSON {_json_type(value)}, not one value")


def _normalise_label(label: str) -> str:
    label = label.strip()
    if _INTEGRAL_FLOAT.fullmatch(label):
        return str(int(label.split(".")[0]))
    return label


# ---------------------------------------------------------------------------------------------- Hugging Face


def _read_hf(
    kind: str, spec: str, flag: str, text_column: str | None, label_column: str | None, *, with_eval: bool
) -> tuple[list[Example], tuple[list[Example], str] | None, str]:
    """``hf:NAME[:CONFIG]``: the train split, and validation (else test) as eval when ``with_eval``."""
    name, _, config = spec[3:].partition(":")
    if not name.strip():
        raise ConfigError(f"{flag} {spec!r} names no data set; write hf:NAME or hf:NAME:CONFIG, e.g. hf:glue:sst2")
    try:
        import datasets
    except ImportError as exc:
        raise ConfigError(
            f"{flag} {spec} needs the Hugging Face datasets library, which is not installed: pip install datasets "
            "(or give a local file or folder)"
        ) from exc
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:  # any failure: unknown name, no network, bad config
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"cannot load Hugging Face data set {spec} ({type(exc).__name__}: {detail}); check the name and config "
            f"and that this machine is online or has it cached, or give a local file with {flag}"
        ) from exc
    splits = list(loaded.keys())
    if "train" not in splits:
        raise ConfigError(f"{spec} has no train split (it has {', '.join(splits)}); give a local file with {flag}")
    noun = _NOUN[kind]
    train = _hf_examples(kind, spec, "train", loaded["train"], text_column, label_column, evaluation=False)
    evals = None
    if with_eval:
        split = next((s for s in ("validation", "test") if s in splits), None)
        if split is not None:
            found = _hf_examples(kind, spec, split, loaded[split], text_column, label_column, evaluation=True)
            if found:  # a test split without labels (all -1) leaves nothing: fall back to a seeded split
                evals = (found, f"eval: {spec} {split} split ({len(found)} {noun})")
    return train, evals, f"{spec} train split ({len(train)} {noun})"


def _hf_examples(
    kind: str,
    spec: str,
    split: str,
    dataset: Any,
    text_column: str | None,
    label_column: str | None,
    *,
    evaluation: bool,
) -> list[Example]:
    columns = list(dataset.column_names)
    features = getattr(dataset, "features", None) or {}
    rows = list(enumerate(dataset, 1))
    if kind == "text" and evaluation:  # datasets marks unlabelled rows (GLUE test splits) with label -1
        label_col = label_column or _find(columns, LABEL_COLUMNS)
        if label_col is not None and hasattr(features.get(label_col), "names"):
            rows = [(i, row) for i, row in rows if row.get(label_col) != -1]
    tag_names = None
    if kind == "tokens":
        tag_col = label_column or _find(columns, TAG_COLUMNS)
        inner = getattr(features.get(tag_col), "feature", None) if tag_col else None
        tag_names = getattr(inner, "names", None)
    problems = _Problems()
    records = [(f"{spec} {split} row {i}", row) for i, row in rows]
    examples = _record_examples(
        kind, f"{spec} {split}", records, columns, text_column, label_column, problems, tag_names=tag_names
    )
    problems.check()
    if not examples and not evaluation:
        raise ConfigError(f"{spec} {split} split holds no examples; give other data with --data")
    return examples


# ---------------------------------------------------------------------------------------------- split and checks


def _split(
    kind: str, examples: list[Example], fraction: float, seed: int, source: str
) -> tuple[list[Example], list[Example]]:
    """A seeded random ``fraction`` (at least one) held out, stratified by label for kind ``text``."""
    n = len(examples)
    n_eval = max(1, math.floor(n * fraction + 0.5))
    rng = random.Random(seed)
    fix = "add examples or give eval data with --eval-data"
    if kind == "text":
        groups: dict[str, list[int]] = {}
        for i, label in enumerate(_labels(examples)):
            groups.setdefault(label, []).append(i)
        order = _sort_labels(groups)
        spare = {label: len(groups[label]) - 1 for label in order}  # one of each label stays in train
        if sum(spare.values()) < 1:
            raise ConfigError(f"{source}: every label has one example, so none can be held out for eval; {fix}")
        n_eval = min(n_eval, sum(spare.values()))
        take = {label: min(len(groups[label]) * n_eval // n, spare[label]) for label in order}
        ranked = sorted(order, key=lambda label: -(len(groups[label]) * n_eval % n))  # largest remainder first
        left = n_eval - sum(take.values())
        while left > 0:
            for label in ranked:
                if left > 0 and take[label] < spare[label]:
                    take[label] += 1
                    left -= 1
        chosen = {i for label in order for i in rng.sample(groups[label], take[label])}
    else:
        if n < 2:
            raise ConfigError(f"{source} holds only one {_NOUN[kind][:-1]}, too few to hold one out for eval; {fix}")
        chosen = set(rng.sample(range(n), min(n_eval, n - 1)))
    train = [ex for i, ex in enumerate(examples) if i not in chosen]
    evals = [ex for i, ex in enumerate(examples) if i in chosen]
    return train, evals


def _check_eval_labels(known: Sequence[str], seen: Iterable[str], what: str, eval_source: Any) -> None:
    unseen = _sort_labels(set(seen) - set(known))
    if unseen:
        raise ConfigError(
            f"{what} in {eval_source} that the training data never has: {_names(unseen)}; add training examples "
            f"with them or drop them from the eval data (the model knows only {_names(known)})"
        )


def _labels(examples: Iterable[Example]) -> Iterator[str]:
    """The label of each text example, every tag of each token example."""
    for ex in examples:
        if isinstance(ex, TextExample):
            yield ex.label
        elif isinstance(ex, TokenExample):
            yield from ex.tags


def _sort_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct labels sorted, numerically when all are integers."""
    unique = set(labels)
    if unique and all(_INTEGER.fullmatch(label) for label in unique):
        return tuple(sorted(unique, key=lambda label: (int(label), label)))
    return tuple(sorted(unique))


def _fingerprint(train: Sequence[Example], evals: Sequence[Example]) -> str:
    payload = {"train": [asdict(ex) for ex in train], "eval": [asdict(ex) for ex in evals]}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _short(value: Any, width: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= width else text[:width] + "…")


def _names(values: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "") if values else "(none)"
