"""``@command``: marks a function of a command module as a ``hub`` command, with typer's settings for it.

Command modules define plain functions (and their own sub-groups); :mod:`adapterhub.cli.app` alone builds the
``hub`` application and registers them, so no command module imports the application back.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__hub_command__"


def command(name: str | None = None, **settings: Any) -> Callable[[F], F]:
    """Mark ``function`` as the command ``name`` (default: the function's name), with typer's ``settings``
    (``epilog``, ``hidden``, ...), as ``typer.Typer.command`` takes them."""

    def mark(function: F) -> F:
        setattr(function, _MARK, (name, settings))
        return function

    return mark


def commands_of(module: ModuleType) -> list[tuple[Callable[..., Any], str | None, dict[str, Any]]]:
    """The commands ``module`` defines, in the order it defines them: (function, name, typer settings)."""
    found = []
    for value in vars(module).values():
        mark = getattr(value, _MARK, None) if callable(value) else None
        if mark is not None and value.__module__ == module.__name__:
            found.append((value, *mark))
    return found
