"""Prefix tuning: trained key/value vectors prepended at every layer (PEFT ``PrefixTuningConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapterhub.errors import ConfigError
from adapterhub.typed_fields import type_problems


@dataclass(frozen=True)
class PrefixSettings:
    num_virtual_tokens: int = 20

    def __post_init__(self) -> None:
        wrong_type = type_problems(type(self), vars(self), lambda _: "--prefix-tokens")
        if wrong_type:
            raise ConfigError("; ".join(wrong_type))
        if self.num_virtual_tokens < 1:
            raise ConfigError(f"--prefix-tokens must be at least 1 (got {self.num_virtual_tokens})")

    def peft_config(self, task_type: str, model: Any) -> Any:
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(task_type=task_type, num_virtual_tokens=self.num_virtual_tokens)

    def card(self, model: Any) -> dict[str, Any]:
        return {"num_virtual_tokens": self.num_virtual_tokens}
