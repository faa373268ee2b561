"""Shared fixtures: every test gets its own registry; tiny seeded random models stand in for real bases."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapterhub.registry import Registry

if TYPE_CHECKING:
    from adapterhub.inference import Hub

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def registry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default registry at a fresh temporary directory for every test."""
    path = tmp_path / "registry"
    monkeypatch.setenv("ADAPTERHUB_REGISTRY", str(path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ADAPTERHUB_DEBUG", raising=False)
    return path


@pytest.fixture
def registry(registry_dir: Path) -> Registry:
    """The test's (empty) registry."""
    return Registry(registry_dir)


@pytest.fixture
def hub(registry: Registry) -> Hub:
    """A CPU Hub on the test's registry (the CLI tests' own ``hub`` fixture runs the command instead)."""
    from adapterhub.inference import Hub

    return Hub(registry, device="cpu")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-32 random BERT saved as a local base directory (no tokenizer needed)."""
    from tests.tiny import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), seed=0)


@pytest.fixture(scope="session")
def mean_pooled_bert(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_bert laid out as a sentence-transformers model that mean-pools (as all-MiniLM-L6-v2 does)."""
    path = tmp_path_factory.mktemp("st") / "bert"
    shutil.copytree(tiny_bert, path)
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return path


@pytest.fixture(scope="session")
def other_tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture as ``tiny_bert``, other random weights: a different base."""
    from tests.tiny import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("other-bert"), seed=1)


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random GPT-2 with a tokenizer: the causal base of ``generate`` tests."""
    from tests.tiny import save_tiny_gpt2

    return save_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), seed=0)


@pytest.fixture(scope="session")
def family_base(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``family_base(name)``: a tiny random base of model family ``name`` (see tests/families.py), saved once."""
    from tests.families import save_family

    saved: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in saved:
            saved[name] = save_family(name, tmp_path_factory.mktemp(f"family-{name}"))
        return saved[name]

    return get
