#!/usr/bin/env bash
# Install the system's chromium when it is missing: the browser tests (tests/ui) drive it through Playwright
# (from the dev extras), which cannot download a browser of its own on a machine without internet.
set -euo pipefail
if command -v chromium >/dev/null || [ -n "${ADAPTERHUB_CHROMIUM:-}" ]; then
    exit 0
fi
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
echo "installing chromium for the browser tests (apt-get)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
