"""Fixtures for inference tests: a registry with tiny bases and a Hub on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterhub.inference import Hub
from adapterhub.registry import Registry


@pytest.fixture
def registry(registry_dir: Path) -> Registry:
    return Registry(registry_dir)


@pytest.fixture
def hub(registry: Registry) -> Hub:
    return Hub(registry, device="cpu")
