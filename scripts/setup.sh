#!/usr/bin/env bash
# Make .venv exactly the tested set: every package at the version and hash in locks/lock.txt (torch the pinned
# CPU build), nothing else, then adapterhub itself (editable). Runs in seconds when .venv already matches.
# Refresh the lock with scripts/lock.sh; test the newest releases with `bash scripts/test.sh --newest`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/uv.sh
ensure_uv .venv
.venv/bin/uv pip sync -q --python .venv/bin/python "${TORCH_SOURCE[@]}" --require-hashes locks/lock.txt
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e .
