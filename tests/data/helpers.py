"""Data test helpers: files written from text or bytes, the one-line error of a load, and the real data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapterhub.data import load_data
from adapterhub.errors import ConfigError

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def fails(match: str, kind: Any, data: Any, **kwargs: Any) -> str:
    """The one-line ConfigError message of ``load_data(kind, data, **kwargs)``, checked against ``match``."""
    with pytest.raises(ConfigError, match=match) as info:
        load_data(kind, None if data is None else str(data), **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def sst(tmp_path: Path, rows: list[tuple[str, str]], name: str = "train.txt") -> Path:
    return write(tmp_path / name, "".join(f"{label} {text}\n" for label, text in rows))


def balanced(n: int = 40) -> list[tuple[str, str]]:
    return [(str(i % 2), f"review number {i}") for i in range(n)]


def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data set {relative} is not at {SHARED_DATA} (../shared/data next to the project)")
    return path
