#!/usr/bin/env bash
# Set up .venv if needed, then lint and run the tests (slow and GPU tests are off; add `-m slow` to run them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check adapterhub tests scripts
.venv/bin/python -m pytest "$@"
