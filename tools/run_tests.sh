#!/usr/bin/env bash
# The README's test command: sets up the environment (fast when already done), then runs
# the whole CPU test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
bash tools/install_browser.sh  # Debian's Chromium for tests/test_apps/test_browser.py
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
exec .venv/bin/python -m pytest tests "$@"
