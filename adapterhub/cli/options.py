"""Command-line options made from settings dataclasses: each field's name, type, default and help, written once.

A settings field (:func:`adapterhub.typed_fields.setting`) becomes one ``--flag``; a method's settings become
``--<method>-<field>`` (or the flag their metadata names). Every option defaults to None, "not given", so that
a YAML file's value or the field's own default stands unless the flag is typed; the default shows in the help.
:func:`takes_options` puts the options into a command's signature, which typer reads.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union

import typer

from adapterhub.typed_fields import field_types, flag_of

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Option:
    """One command-line option made from one settings field.

    Attributes:
        key: The keyword its value is passed on as, e.g. ``epochs`` or ``lora_r``.
        flag: The option's name, e.g. ``--epochs``.
        kind: The field's type.
        help: The help text, its default included.
        metavar: The value's placeholder in ``-h``, where the type's name says too little.
        split: For a list: True splits each value at commas (empty parts dropped), ``"strict"`` splits and keeps
            empty parts (the settings' own checks name them), False takes each value whole.
        hidden: Left out of ``-h`` (an earlier name of another option).
    """

    key: str
    flag: str
    kind: Any
    help: str
    metavar: str | None = None
    split: bool | str = True
    hidden: bool = False

    @property
    def name(self) -> str:
        """The command function's parameter that receives it."""
        return self.flag.removeprefix("--").replace("-", "_")

    def parameter(self) -> inspect.Parameter:
        """The parameter typer turns into this option: None unless the flag is typed."""
        flags = f"{self.flag}/--no-{self.flag[2:]}" if self.kind is bool else self.flag
        option = typer.Option(flags, help=self.help, metavar=self.metavar, hidden=self.hidden, show_default=False)
        annotation = Annotated[_cli_type(self.kind) | None, option]  # type: ignore[valid-type]
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)

    def read(self, value: Any) -> Any:
        """The setting's value from what typer parsed (lists as tuples, split at commas where it applies)."""
        if not isinstance(value, list):
            return value
        if not self.split:
            return tuple(value)
        parts = [part.strip() for item in value for part in item.split(",")]
        return tuple(parts if self.split == "strict" else [part for part in parts if part])


def field_options(cls: type, only: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[Option]:
    """An option for each field of settings dataclass ``cls`` (those in ``only`` where given), except fields
    in ``skip`` and those whose metadata says the command line sets them otherwise (``cli=False``)."""
    types_ = field_types(cls)
    chosen = set(only) if only is not None else None
    return [
        _option(spec, spec.name, flag_of(cls, spec.name), types_[spec.name])
        for spec in dataclasses.fields(cls)
        if (chosen is None or spec.name in chosen) and spec.name not in skip and spec.metadata.get("cli", True)
    ]


def method_options(methods: Mapping[str, Any]) -> list[Option]:
    """An option for each setting of each method (:class:`adapterhub.methods.Method`), keyed by its flag's name
    (``--lora-r`` -> ``lora_r``), as :meth:`TrainConfig.merged` takes them."""
    out = []
    for method in methods.values():
        types_ = field_types(method.settings)
        for spec in dataclasses.fields(method.settings):
            flag = method.flag(spec.name)
            out.append(_option(spec, flag.removeprefix("--").replace("-", "_"), flag, types_[spec.name]))
    return out


def given(options: Iterable[Option], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The settings whose flags were typed, from a command's ``arguments`` (options sharing a key add up)."""
    out: dict[str, Any] = {}
    for option in options:
        value = arguments.get(option.name)
        if value is None:
            continue
        value = option.read(value)
        out[option.key] = (*out[option.key], *value) if option.key in out else value
    return out


def takes_options(options: list[Option]) -> Callable[[F], F]:
    """Give a command function taking ``**settings`` a signature with ``options`` in place of ``**settings``,
    before its own parameters (which typer reads as written)."""

    def decorate(function: F) -> F:
        own = inspect.signature(function, eval_str=True).parameters.values()
        kept = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p.kind is not p.VAR_KEYWORD]
        names = [p.name for p in kept] + [o.name for o in options]
        if len(set(names)) != len(names):
            raise TypeError(f"{function.__name__}: two options take the same parameter name")
        function.__signature__ = inspect.Signature([*(o.parameter() for o in options), *kept])  # type: ignore[attr-defined]
        return function

    return decorate


def _option(spec: dataclasses.Field[Any], key: str, flag: str, kind: Any) -> Option:
    metadata = spec.metadata
    return Option(
        key=key,
        flag=flag,
        kind=kind,
        help=_help(metadata["help"], metadata.get("shown_default", spec.default)),
        metavar=metadata.get("metavar"),
        split=metadata.get("split", True),
    )


def _help(text: str, default: Any) -> str:
    """The field's help as a sentence, with its default where one is worth showing."""
    text = text if text.endswith(".") else text + "."
    if default is None or default is False or default == () or default is dataclasses.MISSING:
        return text
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
    return f"{text} [default: {shown}]"


def _cli_type(kind: Any) -> Any:
    """What typer parses the flag's text as: the field's type without None, a Literal as text (the settings
    check the choice and suggest the closest), a tuple of text as repeatable text."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        arms = [arm for arm in args if arm is not type(None)]
        if len(arms) == 1:
            return _cli_type(arms[0])
    if origin is Literal:
        return str
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] is str:
        return list[str]
    if kind in (bool, int, float, str):
        return kind
    raise TypeError(f"no command-line form for a setting of type {kind}")
