"""Did-you-mean suggestions for names typed by hand: tasks, methods, settings keys and their choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'classify'?)`` for the choice closest to ``word``, ``""`` when none is close.

    Case is ignored when comparing, and the choice is quoted as it is spelled.

    >>> did_you_mean("clasify", ["sentiment", "classify", "ner"])
    " (did you mean 'classify'?)"
    >>> did_you_mean("xyz", ["sentiment", "classify"])
    ''
    """
    spelled = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(str(word).lower(), list(spelled), n=1, cutoff=0.6)
    return f" (did you mean {spelled[close[0]]!r}?)" if close else ""
