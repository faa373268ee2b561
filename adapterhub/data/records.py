"""Examples from rows (CSV, JSON or a Hugging Face data set), for each kind: text, tokens or generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapterhub.data.columns import (
    INPUT_COLUMNS,
    LABEL_COLUMNS,
    PROMPT_COLUMNS,
    RESPONSE_COLUMNS,
    TAG_COLUMNS,
    TEXT_COLUMNS,
    TOKEN_COLUMNS,
    BadValue,
    cell,
    choose_column,
    find,
    label_value,
    optional_text,
)
from adapterhub.data.conll import BIO, BIO_FIX
from adapterhub.data.examples import Example, GenerationExample, TextExample, TokenExample
from adapterhub.data.messages import EMPTY_FIX, Problems, names, short

Record = tuple[str, Any]  # (where: "file:line", the parsed row)


def record_examples(
    kind: str,
    source: str,
    records: list[Record],
    columns: list[str] | None,
    text_column: str | None,
    label_column: str | None,
    problems: Problems,
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


def _text_records(
    source: str,
    records: list[Record],
    columns: list[str],
    text_column: str | None,
    label_column: str | None,
    problems: Problems,
    hint: str,
) -> list[Example]:
    before = problems.count
    text_col = choose_column(source, columns, text_column, TEXT_COLUMNS, "text", "--text-column", problems, hint)
    label_col = choose_column(source, columns, label_column, LABEL_COLUMNS, "label", "--label-column", problems, hint)
    if problems.count > before or text_col is None or label_col is None:
        return []
    examples: list[Example] = []
    for where, row in records:
        text = optional_text(row, text_col, where, problems)
        try:
            label = label_value(row.get(label_col))
        except BadValue as exc:
            problems.add(
                f"{where}: {exc} (column {label_col!r})",
                "give every example one label (multi-label data is not supported)",
            )
            continue
        if text is None:
            continue
        if not text.strip():
            problems.add(f"{where}: empty text in column {text_col!r}", EMPTY_FIX)
        elif not label:
            problems.add(f"{where}: empty label in column {label_col!r}", EMPTY_FIX)
        else:
            examples.append(TextExample(text, label))
    return examples


def _token_records(
    source: str,
    records: list[Record],
    columns: list[str],
    token_column: str | None,
    tag_column: str | None,
    problems: Problems,
    hint: str,
    tag_names: Sequence[str] | None,
) -> list[Example]:
    before = problems.count
    token_col = choose_column(source, columns, token_column, TOKEN_COLUMNS, "tokens", "--text-column", problems, hint)
    tag_col = choose_column(source, columns, tag_column, TAG_COLUMNS, "tags", "--label-column", problems, hint)
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
        bad = [t for t in tags if not isinstance(t, str) or not BIO.fullmatch(t)]
        if bad:
            problems.add(f"{where}: tag {short(bad[0])} is not BIO", BIO_FIX)
            continue
        examples.append(TokenExample(tuple(str(t) for t in tokens), tuple(tags)))
    return examples


def _generation_records(
    source: str,
    records: list[Record],
    columns: list[str],
    prompt_column: str | None,
    response_column: str | None,
    problems: Problems,
    hint: str,
) -> list[Example]:
    if prompt_column is None and response_column is None and "instances" in columns:
        return _self_instruct_records(records, problems)
    before = problems.count
    response_col: str | None = None
    if response_column is not None:
        response_col = choose_column(source, columns, response_column, (), "response", "--label-column", problems, hint)
    else:
        response_col = find(columns, RESPONSE_COLUMNS)
    if problems.count > before:
        return []
    if response_col is None:  # plain text: one column, prompt ""
        if prompt_column is not None:
            text_col = choose_column(source, columns, prompt_column, (), "text", "--text-column", problems, hint)
        else:
            text_col = find(columns, ("text",))
        if problems.count > before:
            return []
        if text_col is None:
            problems.add(
                f"{source}: no generation columns (instruction and output or response; Self-Instruct instruction "
                f"and instances; or text); its columns are {names(columns)}{hint}",
                "name the prompt and response columns with --text-column and --label-column",
            )
            return []
        examples: list[Example] = []
        for where, row in records:
            text = cell(row, text_col, where, problems)
            if text is not None:
                examples.append(GenerationExample("", text))
        return examples
    prompt_col = choose_column(
        source, columns, prompt_column, PROMPT_COLUMNS, "instruction", "--text-column", problems, hint
    )
    if prompt_col is None:
        return []
    input_col = find(columns, INPUT_COLUMNS) if prompt_column is None else None
    examples = []
    for where, row in records:
        prompt = cell(row, prompt_col, where, problems)
        response = cell(row, response_col, where, problems)
        if prompt is None or response is None:
            continue
        extra = optional_text(row, input_col, where, problems) if input_col is not None else ""
        if extra is None:
            continue
        examples.append(GenerationExample(f"{prompt}\n\n{extra}" if extra.strip() else prompt, response))
    return examples


def _self_instruct_records(records: list[Record], problems: Problems) -> list[Example]:
    examples: list[Example] = []
    for where, row in records:
        instruction = cell(row, "instruction", where, problems)
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
            output = cell(instance, "output", spot, problems)
            extra = optional_text(instance, "input", spot, problems)
            if instruction is not None and output is not None and extra is not None:
                examples.append(
                    GenerationExample(f"{instruction}\n\n{extra}" if extra.strip() else instruction, output)
                )
    return examples
