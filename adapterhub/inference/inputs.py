"""Checks on inputs before they join a batch: one input the tokenizer cannot take must fail alone, by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapterhub.errors import ContextTooLong, InvalidInput


def check_text(text: Any, param: str) -> None:
    """Refuse ``text`` (a string, or a list of words) that UTF-8 cannot encode, naming it ``param``.

    Python strings may hold lone surrogates (JSON's ``"\\udc80"`` decodes to one); the tokenizers take only
    well-formed Unicode and raise a ``TypeError`` on them, which would fail every input batched with this one.
    """
    parts = [text] if isinstance(text, str) else list(text)
    for part in parts:
        try:
            part.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = part[exc.start]
            raise InvalidInput(
                f"{param} is not well-formed Unicode: a lone surrogate {bad!r} (U+{ord(bad):04X}) at character "
                f"{exc.start}; send the text as valid UTF-8",
                param,
            ) from None


def check_texts(texts: Sequence[Any], params: Sequence[str] | None = None) -> None:
    """:func:`check_text` for each input; ``params`` name them (default ``inputs[0]``, ``inputs[1]``, …)."""
    names = list(params) if params is not None else [f"inputs[{i}]" for i in range(len(texts))]
    for text, param in zip(texts, names, strict=True):
        check_text(text, param)


def check_context(prompt: int, prefix: int, new: int, context: int | None, param: str) -> None:
    """Refuse a prompt of ``prompt`` tokens after a ``prefix``-token adapter prefix that, with ``new`` tokens
    to generate, needs more than ``context`` positions."""
    need = prefix + prompt + new
    if context is None or need <= context:
        return
    room = context - prefix - prompt
    before = f"a {prefix}-token adapter prefix and " if prefix else ""
    fix = f"ask for at most {room} new tokens or shorten the prompt" if room >= 1 else "shorten the prompt"
    raise ContextTooLong(
        f"{param}: {before}{prompt} prompt tokens + {new} new tokens = {need} positions, but the base's context "
        f"is {context}; {fix}",
        param,
    )
