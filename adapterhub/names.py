"""Adapter references: ``sentiment`` (latest), ``sentiment@3`` (a version), ``sentiment:prod`` (an alias).

Names and aliases are lower-case letters, digits, ``-``, ``_`` and ``.``; they start with a letter or digit,
never hold ``..`` and are at most 64 characters, so a name is always a single safe path component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapterhub.errors import InvalidName

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_VERSION = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also takes '²', '١' and '１'
MAX_VERSION = 999_999_999
RULES = "lower-case letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64 characters"
# NAME[@VERSION|:ALIAS] as one regex for JSON schemas (ECMA-262 and Python alike; the lookahead forbids '..')
REF_PATTERN = rf"^(?!.*\.\.){_NAME.pattern}(?:@[1-9][0-9]{{0,8}}|:{_NAME.pattern})?$"
NAME_PATTERN = rf"^(?!.*\.\.){_NAME.pattern}$"  # a bare NAME
EXACT_REF_PATTERN = rf"^(?!.*\.\.){_NAME.pattern}@[1-9][0-9]{{0,8}}$"  # NAME@VERSION only


def validate_name(name: str, what: str = "adapter name") -> str:
    """Return ``name`` unchanged if it is a valid name or alias, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        shown = name[:80] + "…" if isinstance(name, str) and len(name) > 80 else name
        raise InvalidName(f"invalid {what} {shown!r}: use {RULES} (never '..' or '/')")
    return name


def is_valid_name(name: str) -> bool:
    """True when :func:`validate_name` accepts ``name`` (for skipping entries that cannot be names)."""
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


def is_version(text: str) -> bool:
    """True for a version as the registry writes it: ASCII digits, no leading zero (``3``, never ``03`` or ``³``)."""
    return bool(_VERSION.fullmatch(text)) and not text.startswith("0")


@dataclass(frozen=True)
class Ref:
    """A parsed reference to one adapter version: exactly one of ``version`` and ``alias`` or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        """Parse ``name``, ``name@VERSION`` or ``name:ALIAS``.

        >>> Ref.parse("sentiment@3")
        Ref(name='sentiment', version=3, alias=None)
        """
        if not isinstance(text, str):
            raise InvalidName(f"invalid adapter reference {text!r}: expected NAME, NAME@VERSION or NAME:ALIAS")
        if "@" in text:
            name, _, version = text.partition("@")
            if not _VERSION.fullmatch(version) or int(version) < 1:
                raise InvalidName(
                    f"invalid version in {text[:80]!r}: a version is a positive integer of ASCII digits "
                    f"(1 to {MAX_VERSION}), e.g. {(name if _NAME.fullmatch(name) else '') or 'NAME'}@1"
                )
            return cls(validate_name(name), version=int(version))
        if ":" in text:
            name, _, alias = text.partition(":")
            return cls(validate_name(name), alias=validate_name(alias, "alias"))
        return cls(validate_name(text))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}:{self.alias}"
        return self.name
