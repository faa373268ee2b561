"""What users expect of a command-line tool: -h, --version, shell completion, examples in every help, quick start."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

import adapterhub
from adapterhub.cli import app

HUB = Path(sys.executable).with_name("hub")  # the installed entry point, as users run it
HEAVY = ("torch", "transformers", "peft", "accelerate", "numpy")


def _commands() -> list[list[str]]:
    """Every command and group path under `hub`, e.g. ["registry", "verify"]."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        if hasattr(command, "commands"):  # a group (typer carries its own copy of click's classes)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_and_group_knows_both_help_options(hub) -> None:
    paths = _commands()
    assert ["train"] in paths and ["registry", "verify"] in paths and len(paths) > 14
    for path in paths:
        short, long_ = hub(*path, "-h"), hub(*path, "--help")
        assert short[0] == 0 and short == long_, path
        usage = short[1].splitlines()[0]  # in-process the program is named after pytest; a shell says `hub`
        assert usage.startswith("Usage: ") and f"hub {' '.join(path)} [OPTIONS]".replace("  ", " ") in usage, path


def test_every_help_ends_with_examples_kept_line_by_line(hub) -> None:
    for path in _commands():
        code, out, _ = hub(*path, "-h")
        assert code == 0 and "\n  Examples:\n" in out, path
        block = out.split("\n  Examples:\n", 1)[1].splitlines()
        assert block and all(line.startswith("    ") and "hub " in line for line in block), (path, block)
        if path:  # each command's examples run that command
            assert all(f"hub {' '.join(path)}" in line or "registry" in line for line in block), (path, block)
    _, out, _ = hub("predict", "-h")
    assert '    hub predict reviews "a fine film" "a dull plot"\n' in out  # not rewrapped into one paragraph


def _imports(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the installed `hub` with -X importtime; the result and the top-level packages it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(HUB), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}
    assert "typer" in modules, result.stderr[-2000:]  # the timing report is there
    return result, modules


def test_version_prints_the_package_version_without_loading_torch() -> None:
    result, modules = _imports("--version")
    assert result.returncode == 0 and result.stdout == f"hub {adapterhub.__version__}\n"
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_help_loads_no_torch() -> None:
    result, modules = _imports("-h")
    assert result.returncode == 0 and result.stdout.startswith("Usage: hub [OPTIONS] COMMAND [ARGS]...")
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize(("words", "expected"), [("hub tr", "train"), ("hub registry ve", "verify")])
def test_shell_completion_completes_commands_without_loading_torch(words: str, expected: str) -> None:
    shell = {"_HUB_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(words.count(" "))}
    result, modules = _imports(env=shell)  # what bash runs on <TAB>
    assert result.returncode == 0 and result.stdout.split() == [expected]
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_completion_scripts_install_for_the_usual_shells(hub) -> None:
    # typer detects the user's shell by walking up the process tree, which fails under a test runner started
    # without a shell; its own switch for tests makes the option take the shell's name instead
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    for shell in ("bash", "zsh", "fish"):
        result = subprocess.run(
            [str(HUB), "--show-completion", shell], capture_output=True, text=True, timeout=60, env=env
        )
        assert result.returncode == 0 and "_HUB_COMPLETE=complete_" in result.stdout, (shell, result.stderr)
    code, out, _ = hub("-h")
    assert code == 0 and "--install-completion" in out and "--version" in out


def _printing_calls(path: Path) -> list[str]:
    """``file:line call`` for each call in ``path`` that writes to a stream without :func:`formatting.echo`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        call = ast.unparse(node.func)
        writes = call in ("print", "Console") or call.endswith((".echo", ".secho", ".write", ".print_json"))
        if writes and not call.startswith(("fmt.", "self.console.")):  # progress.log_console's console escapes
            found.append(f"{path.name}:{node.lineno} {call}")
    return found


def test_every_line_a_command_prints_goes_through_formatting_echo() -> None:
    cli = Path(adapterhub.__file__).parent / "cli"
    assert [c for p in sorted(cli.glob("*.py")) if p.name != "formatting.py" for c in _printing_calls(p)] == []
