"""Schemathesis against a real ``hub serve``: thousands of requests generated from the server's own OpenAPI
schema, valid and invalid, and every answer must keep to that schema (statuses, bodies, headers, auth)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapterhub.registry import Registry
from tests.serving.test_process import _server

ROOT = Path(__file__).resolve().parents[2]
# 413 rejects a request over the server's limits (which the schema declares) as surely as 422 does
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
"""
# small limits keep every schema-valid generation within the tiny GPT-2's 128 positions, and the run short
LIMITS = ("--max-inputs", "4", "--max-input-chars", "64", "--max-new-tokens", "8")
PRELOAD = ("--adapter", "sentiment", "--adapter", "topic", "--adapter", "ner", "--adapter", "poet")


def test_schemathesis_finds_nothing_on_a_server_without_a_key(registry: Registry, tmp_path: Path) -> None:
    """Without a key, as most local servers run (the schema must then declare no auth either); a server with
    one answers 401 before anything else, which test_guard.py and test_errors.py check."""
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    with _server(registry, *LIMITS, *PRELOAD, key=None) as (_, url):
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--request-timeout",
            "60",
            "--output-sanitize",
            "false",
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.serving.schemathesis_hooks"}
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failures" not in result.stdout.lower().split("summary")[-1]
