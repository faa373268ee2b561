"""The house rules a reader relies on: imports go down the layers of docs/architecture.md with no exception, every
module of the package sits in a layer, and every library file and function is short enough to hold in mind."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "adapterhub"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _layers() -> list[str]:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    return [name.strip() for layer in layers["layers"] for name in layer.replace(":", "|").split("|")]


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    children = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    children |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(children - set(_layers()))
    assert not missing, f"add {', '.join(missing)} to a layer of the contract in pyproject.toml"
    stale = sorted(set(_layers()) - children)
    assert not stale, f"the layers name modules that no longer exist: {', '.join(stale)}"


def test_no_contract_ignores_an_import() -> None:
    assert _contracts(), "pyproject.toml holds the import-linter contracts"
    assert not [c["name"] for c in _contracts() if c.get("ignore_imports")]
    assert not tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"].get(
        "exclude_type_checking_imports"
    ), "type-only imports follow the layers too"


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def _library_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_library_file_is_longer_than_a_reader_holds() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in _library_files() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert not long, f"split these files (at most {MAX_FILE_LINES} lines): {long}"


def test_no_library_function_is_longer_than_a_reader_holds() -> None:
    long = {}
    for path in _library_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # decorators aside, signature and docstring included
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, f"split these functions (at most {MAX_FUNCTION_LINES} lines): {long}"
