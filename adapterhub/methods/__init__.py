"""Adapter methods: one settings dataclass and its PEFT config per method, one file each."""

from __future__ import annotations

from adapterhub.methods.head import HeadSettings
from adapterhub.methods.lora import LoraSettings
from adapterhub.methods.prefix import PrefixSettings

METHODS = ("lora", "prefix", "head")

__all__ = ["METHODS", "HeadSettings", "LoraSettings", "PrefixSettings"]
