#!/usr/bin/env bash
# Refresh locks/lock.txt: resolve pyproject.toml with its dev and quantize extras to the newest releases today, torch held
# at the CPU build 2.13.0, every file's sha256 recorded. Run the suite on the result before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/uv.sh
ensure_uv .venv
.venv/bin/uv pip compile -q pyproject.toml --extra dev --extra quantize --extra docs --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 "${TORCH_SOURCE[@]}" --constraint locks/torch.txt \
    --no-emit-package adapterhub --custom-compile-command "bash scripts/lock.sh" -o locks/lock.txt "$@"
