#!/usr/bin/env bash
# Set up .venv from the lock, then lint and run the tests (slow and GPU tests are off; add `-m slow` to run them).
#   bash scripts/test.sh            the locked set (locks/lock.txt), as CI runs it
#   bash scripts/test.sh --newest   the newest release of every dependency today, in .venv-newest; prints what it
#                                   resolved and, when the suite passes, records it in locks/newest.txt
#   bash scripts/test.sh --lowest   every direct dependency at the floor pyproject.toml declares, in .venv-lowest;
#                                   records a pass in locks/lowest.txt
# Other arguments go to pytest. torch stays at the pinned CPU build in every set.
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=lock
case "${1:-}" in
    --newest) set_name=newest; shift ;;
    --lowest) set_name=lowest; shift ;;
esac
bash scripts/browser.sh  # chromium for tests/ui, when missing
if [ "$set_name" = lock ]; then
    bash scripts/setup.sh
    .venv/bin/ruff check adapterhub tests scripts
    .venv/bin/lint-imports --no-cache  # the layers of docs/architecture.md (contracts in pyproject.toml)
    exec .venv/bin/python -m pytest "$@"
fi
source scripts/uv.sh
venv=.venv-$set_name
resolution=$([ "$set_name" = newest ] && echo highest || echo lowest-direct)
ensure_uv "$venv"
resolved=$venv/resolved.txt
"$venv/bin/uv" pip compile -q pyproject.toml --extra dev --extra quantize --extra docs --resolution "$resolution" \
    --python-version 3.11 "${TORCH_SOURCE[@]}" --constraint locks/torch.txt --no-emit-package adapterhub \
    --no-header --no-annotate -o "$resolved"
"$venv/bin/uv" pip sync -q --python "$venv/bin/python" "${TORCH_SOURCE[@]}" "$resolved"
"$venv/bin/uv" pip install -q --python "$venv/bin/python" --no-deps --no-build-isolation -e .
echo "the $set_name releases ($resolution), resolved today:"
grep -iE '^(torch|transformers|peft|accelerate|bitsandbytes|huggingface-hub|safetensors|typer|fastapi)==' "$resolved" \
    | sed 's/^/  /'
ADAPTERHUB_TESTED_SET=$set_name "$venv/bin/python" -m pytest "$@"
{
    echo "# the $set_name releases last tested: $(date -u +%F), the suite passed (pytest ${*:-with no arguments}; $resolution resolution)"
    echo "# written by: bash scripts/test.sh --$set_name"
    cat "$resolved"
} > "locks/$set_name.txt"
echo "recorded in locks/$set_name.txt"
