"""The lock is what the README's commands install: it agrees with pyproject.toml, and .venv holds exactly it."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("dev", "quantize", "docs")  # what scripts/lock.sh resolves
# Installed beside the locked set by scripts/setup.sh: the installer, pip (every venv has it) and the project.
NOT_LOCKED = {"uv", "pip", "adapterhub"}


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file (hash continuation lines skipped), by normalised name."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in EXTRAS for r in extras[e])]]


def test_every_declared_requirement_is_locked_at_a_version_it_allows() -> None:
    locked = pins((ROOT / "locks" / "lock.txt").read_text())
    wrong = []
    for requirement in declared():
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(Version(version), prereleases=True):
            wrong.append(f"{requirement} (locked: {version})")
    assert wrong == [], "pyproject.toml and locks/lock.txt disagree; run `bash scripts/lock.sh`"


def test_every_locked_line_carries_its_hashes() -> None:
    text = (ROOT / "locks" / "lock.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # one block a package, the header dropped
    assert len(blocks) == len(pins(text)) > 50
    assert [b.split(" ")[0] for b in blocks if "--hash=sha256:" not in b] == []


def test_torch_is_locked_at_the_cpu_build() -> None:
    assert pins((ROOT / "locks" / "lock.txt").read_text())["torch"] == "2.13.0+cpu"


@pytest.mark.skipif(
    os.environ.get("ADAPTERHUB_TESTED_SET", "lock") != "lock", reason="a --newest or --lowest run tests another set"
)
def test_the_environment_holds_exactly_the_locked_versions() -> None:
    """`bash scripts/setup.sh` syncs .venv to the lock: nothing missing, nothing else, nothing at another version."""
    locked = pins((ROOT / "locks" / "lock.txt").read_text())
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    assert {n: v for n, v in installed.items() if n not in NOT_LOCKED} == locked
