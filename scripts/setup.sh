#!/usr/bin/env bash
# Create .venv when it is missing and install the project into it: torch 2.13.0 first (the pinned CPU
# build; an open range could pull a multi-GB CUDA build), then adapterhub with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
