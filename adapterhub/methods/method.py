"""``Method``: everything the rest of adapterhub knows about one adapter method, in one object per method file.

A method module (``methods/lora.py``, ``methods/prefix.py``, ...) defines its settings dataclass and one
``METHOD = Method(...)``; :mod:`adapterhub.methods` registers it. Training, tuning, the CLI, the registry's
validation, inference and the exports ask the method object; none of them branches on a method's name.

A settings dataclass is frozen, every field has a default, and every field's ``metadata`` holds its ``help``
(one phrase for ``hub train -h`` and the docs) and, where the flag is not ``--<method>-<field>``, its ``flag``.
Its ``peft_config(task_type, model)`` builds PEFT's config and ``card(model)`` says what the card records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Method:
    """One adapter method.

    Attributes:
        name: What ``--method`` takes and the card's ``method`` records, e.g. ``"lora"``.
        summary: One phrase for ``hub train -h`` and the docs.
        settings: The method's settings dataclass (frozen, defaults for every field, ``help`` in each field's
            metadata); ``settings()`` is the default.
        default_lr: The peak learning rate when ``--lr`` is not given.
        peft_type: PEFT's ``peft_type`` of the adapters it saves (``adapter_config.json``), e.g. ``"LORA"``.
    """

    name: str
    summary: str
    settings: type
    default_lr: float
    peft_type: str

    def flag(self, field_name: str) -> str:
        """The command-line flag of one of the settings' fields, e.g. ``--lora-r``."""
        spec = next(f for f in dataclasses.fields(self.settings) if f.name == field_name)
        return spec.metadata.get("flag") or f"--{self.name}-{field_name.replace('_', '-')}"

    def help(self, field_name: str) -> str:
        """The help text of one of the settings' fields."""
        spec = next(f for f in dataclasses.fields(self.settings) if f.name == field_name)
        return spec.metadata["help"]

    def default_settings(self) -> Any:
        return self.settings()
