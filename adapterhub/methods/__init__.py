"""Adapter methods as plug-ins: one module per method, each with its settings dataclass and one ``METHOD``.

:data:`METHODS` maps a method's name to its :class:`~adapterhub.methods.method.Method`, in the order
``hub train -h`` lists them; adding a method is a new module here and its line in :data:`MODULES`.
"""

from __future__ import annotations

from importlib import import_module

from adapterhub.errors import ConfigError
from adapterhub.methods.head import HeadSettings
from adapterhub.methods.lora import LoraSettings
from adapterhub.methods.method import Method
from adapterhub.methods.prefix import PrefixSettings
from adapterhub.suggest import did_you_mean

# The method modules, one a line, in the order `hub train -h` lists them; each defines one METHOD.
MODULES = (
    "lora",
    "prefix",
    "head",
    "ia3",
)
METHODS: dict[str, Method] = {
    m.name: m for m in (import_module(f"adapterhub.methods.{module}").METHOD for module in MODULES)
}


def get_method(name: str) -> Method:
    """The registered method called ``name``; a :class:`ConfigError` naming the known ones otherwise."""
    if name not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)} (got {name!r}){did_you_mean(name, METHODS)}")
    return METHODS[name]


def for_peft_type(peft_type: str) -> Method | None:
    """The first registered method whose adapters PEFT saves as ``peft_type`` (a plain PEFT LoRA adapter is a
    ``lora`` one, not a ``head`` one), or None."""
    return next((m for m in METHODS.values() if m.peft_type == peft_type), None)


__all__ = ["METHODS", "HeadSettings", "LoraSettings", "Method", "PrefixSettings", "for_peft_type", "get_method"]
