#!/usr/bin/env bash
# Set up .venv if needed, then run the main job on the embedded default base (all-MiniLM-L6-v2, offline):
# train a sentiment adapter on the embedded review set, list the registry, show its card, verify its files,
# then hot-load it onto the base and predict.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/hub train --task sentiment
.venv/bin/hub list
.venv/bin/hub show sentiment
.venv/bin/hub registry verify
.venv/bin/hub predict sentiment "a warm, funny and beautifully acted film" "two hours of my life I will never get back"
