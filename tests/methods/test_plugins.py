"""Methods are plug-ins: no library module outside ``adapterhub/methods/`` branches on a method's name.

A branch is a method name as a string literal that code compares against (``method == "lora"``, ``in ("lora",
"head")``), looks up (``TABLE["prefix"]``, ``.get("head")``), keys a table with (``{"lora": ...}``) or lists
as a list of methods (``("lora", "prefix", "head")``). Code asks the method object instead (``METHODS[name]``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from adapterhub.methods import METHODS

LIBRARY = Path(__file__).resolve().parents[2] / "adapterhub"


def _names(node: ast.AST | None) -> list[str]:
    """The method names ``node`` spells as literals: a string, or a tuple, list or set of strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in METHODS:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [name for element in node.elts for name in _names(element)]
    return []


def method_branches(source: str) -> list[tuple[int, str]]:
    """(line, what) for every place ``source`` compares against, looks up, keys or lists a method's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            names = [n for side in (node.left, *node.comparators) for n in _names(side)]
            found += [(node.lineno, f"compares with {n!r}") for n in names]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):  # not `settings["lora"] = ...`
            found += [(node.lineno, f"looks up {n!r}") for n in _names(node.slice)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            found += [(node.lineno, f"gets {n!r}") for n in _names(node.args[0] if node.args else None)]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, f"keys a table with {n!r}") for key in node.keys for n in _names(key)]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set) and len(_names(node)) == len(node.elts) > 1:
            found.append((node.lineno, f"lists {', '.join(map(repr, _names(node)))}"))
    return found


def test_no_library_module_outside_methods_branches_on_a_method_name() -> None:
    offenders = []
    for path in sorted(LIBRARY.rglob("*.py")):
        if (LIBRARY / "methods") in path.parents:
            continue
        for line, what in method_branches(path.read_text()):
            offenders.append(f"{path.relative_to(LIBRARY.parent)}:{line} {what}")
    assert not offenders, "ask the method object instead:\n" + "\n".join(offenders)


def test_the_check_finds_each_kind_of_branch() -> None:
    branches = method_branches(
        "if config.method == 'prefix': pass\n"
        "ok = card.method in ('lora', 'head')\n"
        "lr = DEFAULT_LR['lora']\n"
        "types = {'lora': 'LORA'}\n"
        "kind = TYPES.get('head')\n"
        "METHODS = ('lora', 'prefix', 'head')\n"
    )
    assert sorted({line for line, _ in branches}) == [1, 2, 3, 4, 5, 6]
    # a method's name elsewhere is no branch: a default, a message, a flag's name, a settings field stored or
    # listed among other fields
    assert (
        method_branches(
            "method: str = 'lora'\nhelp = 'lora, prefix or head'\nflag = '--lora-r'\n"
            "top['lora'] = settings\nskip = {'name', 'data', 'lora', 'prefix'}\n"
        )
        == []
    )


def test_the_check_fails_on_code_that_branches(tmp_path: Path) -> None:
    # the shape of tuning.py before methods answered for themselves
    before = 'def suggest(method):\n    low, high = (1e-4, 5e-3) if method == "lora" else (1e-3, 5e-2)\n'
    assert method_branches(before) == [(2, "compares with 'lora'")]
