"""What the benchmarks share: every contender measured in a process of its own, rounds alternating, and the
command line that runs either the whole benchmark or one contender."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any


def in_processes(
    command: list[str], keys: list[str], rounds: int, name: Callable[[str], str] = str
) -> dict[str, list[float]]:
    """Each of ``keys`` run as ``command --contender KEY``, once per round in the same order, so no contender
    inherits another's threads or caches and drift over the run hits all alike; the numbers each child printed
    (a JSON list on its last line), by key. A child that fails stops the benchmark with its last error line."""
    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        for key in keys:
            child = subprocess.run([*command, "--contender", key], capture_output=True, text=True)
            if child.returncode:
                raise SystemExit(f"{name(key)}: {(child.stderr.strip().splitlines() or ['failed'])[-1]}")
            results.setdefault(key, []).extend(json.loads(child.stdout.strip().splitlines()[-1]))
    return results


def dispatch(args: Any, contender: Callable[[Any], list[float]], run: Callable[[Any, dict], None]) -> None:
    """``--contender KEY``: one contender's numbers as a JSON list; else the whole benchmark, whose report goes to
    stderr with ``--json`` and its numbers to stdout as one JSON object."""
    if args.contender:
        print(json.dumps(contender(args)))
        return
    measured: dict = {}
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        run(args, measured)
    if args.json:
        print(json.dumps(measured, indent=2))
