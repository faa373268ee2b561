"""Plain values (a YAML file's, a Python call's) checked against the field types of a settings dataclass.

Each problem is one phrase that names the key, the value and what was expected, e.g. ``lr: 'abc' is not a
number``; the callers join every phrase of one source into one :class:`~adapterhub.errors.ConfigError`.
The types understood are those the settings use: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``,
``tuple[str, ...]``, unions with ``None`` and nested settings dataclasses.

Settings are written once: :func:`setting` makes a field with its default and its help (and, where needed, its
flag), from which the command line builds its options (:mod:`adapterhub.cli.options`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

from adapterhub.errors import ConfigError
from adapterhub.suggest import did_you_mean

# PyYAML reads YAML 1.1, where `1e-3` (no dot) is text, not a number; such text is read as the number it spells
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def setting(default: Any, help: str, **more: Any) -> Any:
    """A settings field with its default and ``metadata`` describing it.

    Args:
        default: The value when none is given (immutable: settings are frozen).
        help: One phrase for ``-h`` and the docs; the default is added to it where it is shown.
        **more: ``flag`` (the option's name where it is not ``--`` and the field's name in kebab case),
            ``shown_default`` (the default in words, where the value alone says too little), ``metavar``,
            ``split`` (for lists: False takes each value whole; ``"strict"`` keeps empty parts between commas),
            ``cli`` (False: the command line sets it some other way; ``cli_reason`` says how).
    """
    return dataclasses.field(default=default, metadata={"help": help, **more})


def flag_of(cls: type, field_name: str) -> str:
    """The command-line flag of field ``field_name`` of settings dataclass ``cls``, e.g. ``--batch-size``."""
    spec = next(f for f in dataclasses.fields(cls) if f.name == field_name)
    return spec.metadata.get("flag") or "--" + field_name.replace("_", "-")


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def type_problems(cls: type, values: Mapping[str, Any], name: Callable[[str], str] = str) -> list[str]:
    """One phrase per value of ``values`` that does not fit its field's type (keys that are not fields are
    skipped); ``name`` spells a field as the user typed it, e.g. ``--lr`` for a flag."""
    types_ = field_types(cls)
    return [
        f"{name(key)}: {_shown(value)} is not {describe(types_[key])}{_suggestion(value, types_[key])}"
        for key, value in values.items()
        if key in types_ and not fits(value, types_[key])
    ]


def from_plain(cls: type, values: Mapping[str, Any], prefix: str = "") -> tuple[Any, list[str]]:
    """An instance of dataclass ``cls`` built from plain values, and every problem found on the way.

    Unknown keys (with the closest known one), values of the wrong type and the instance's own checks (its
    ``__post_init__`` raising :class:`ConfigError`) are all collected; the instance is None when any was
    found. Nested settings dataclasses are read from mappings, their keys named ``lora.r``; lists become
    tuples; text that spells a number is read as one where a number is expected.
    """
    types_ = field_types(cls)
    problems = [
        f"{prefix}{key} is not a setting{did_you_mean(key, types_) or ' (known: ' + ', '.join(types_) + ')'}"
        for key in values
        if key not in types_
    ]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types_:
            continue
        expected = types_[key]
        nested = _dataclass_in(expected)
        if nested is not None and isinstance(value, Mapping):
            instance, found = from_plain(nested, value, f"{prefix}{key}.")
            problems += found
            if instance is not None:
                kwargs[key] = instance
            continue
        read = _read(value, expected)
        if fits(read, expected):
            kwargs[key] = read
        else:
            problems.append(f"{prefix}{key}: {_shown(value)} is not {describe(expected)}{_suggestion(value, expected)}")
    try:
        instance = cls(**kwargs)
    except ConfigError as exc:  # the instance's own checks (ranges, combinations), on the values that fit
        problems.append(str(exc))
        instance = None
    return (None if problems else instance), problems


def fits(value: Any, expected: Any) -> bool:
    """Whether ``value`` is of type ``expected`` (an int is a float; a bool is neither; a list is a tuple)."""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if expected is Any:
        return True
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in args)
    if origin in (Union, types.UnionType):
        return any(fits(value, arm) for arm in args)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(fits(item, args[0]) for item in value)
        return len(value) == len(args) and all(fits(item, arm) for item, arm in zip(value, args, strict=True))
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True  # a type these settings do not use: not checked here


def describe(expected: Any) -> str:
    """What a value of type ``expected`` is, in words: ``a number``, ``one of linear, cosine``, …"""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin is Literal:
        return "one of " + ", ".join(str(choice) for choice in args)
    if origin in (Union, types.UnionType):
        arms = [describe(arm) for arm in args if arm is not type(None)]
        return " or ".join(arms) + (" or null" if type(None) in args else "")
    if origin is tuple:
        return f"a list of {_plural(args[0])}" if len(args) == 2 and args[1] is Ellipsis else f"a list of {len(args)}"
    if dataclasses.is_dataclass(expected):
        return f"a mapping of {', '.join(field_types(expected))}"  # type: ignore[arg-type]
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        expected, getattr(expected, "__name__", str(expected))
    )


def _plural(expected: Any) -> str:
    return {str: "strings", int: "integers", float: "numbers"}.get(expected, describe(expected))


def _read(value: Any, expected: Any) -> Any:
    """Lists as tuples where a tuple is expected; text that spells a number as that number where a number is."""
    if isinstance(value, list) and _accepts(expected, tuple):
        return tuple(value)
    spells_number = isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    if spells_number and _accepts(expected, float) and not _accepts(expected, str):
        return float(value)
    return value


def _accepts(expected: Any, kind: type) -> bool:
    if typing.get_origin(expected) in (Union, types.UnionType):
        return any(_accepts(arm, kind) for arm in typing.get_args(expected))
    return expected is kind or typing.get_origin(expected) is kind


def _dataclass_in(expected: Any) -> type | None:
    arms = typing.get_args(expected) if typing.get_origin(expected) in (Union, types.UnionType) else (expected,)
    return next((arm for arm in arms if isinstance(arm, type) and dataclasses.is_dataclass(arm)), None)


def _suggestion(value: Any, expected: Any) -> str:
    """The closest choice of a ``Literal`` (also inside ``X | None``) to a mistyped string."""
    arms = typing.get_args(expected) if typing.get_origin(expected) in (Union, types.UnionType) else (expected,)
    choices = [str(c) for arm in arms if typing.get_origin(arm) is Literal for c in typing.get_args(arm)]
    return did_you_mean(value, choices) if isinstance(value, str) and choices else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"
