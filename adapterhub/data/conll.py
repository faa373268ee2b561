"""CoNLL token files (one ``token<TAB or spaces>TAG`` a line, sentences split by blank lines) and BIO tags."""

from __future__ import annotations

import re
from pathlib import Path

from adapterhub.data.examples import Example, TokenExample
from adapterhub.data.messages import Problems, short

BIO = re.compile(r"O|[BI]-\S+")
BIO_FIX = "tags must be BIO: O, B-TYPE or I-TYPE (e.g. B-person, I-person)"
_FIELDS = re.compile(r"[ \t]+")


def conll_examples(path: Path, lines: list[str], problems: Problems) -> list[Example]:
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
                f"{path}:{n}: token {short(fields[0])} has no tag",
                "write one 'token<TAB>TAG' a line, with a blank line between sentences",
            )
            continue
        tag = fields[-1]
        if not BIO.fullmatch(tag):
            problems.add(f"{path}:{n}: tag {short(tag)} is not BIO", BIO_FIX)
            continue
        tokens.append(fields[0])
        tags.append(tag)
    if tokens:
        sentences.append(TokenExample(tuple(tokens), tuple(tags)))
    if not sentences and problems.count == before:
        problems.add(f"{path} holds no sentences", "write one 'token<TAB>TAG' a line")
    return sentences
