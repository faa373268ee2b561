#!/usr/bin/env bash
# Set up .venv if needed, then lint and run the tests (slow and GPU tests are off; add `-m slow` to run them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh  # chromium for tests/ui, when missing
.venv/bin/ruff check adapterhub tests scripts
.venv/bin/python -m pytest "$@"
