#!/usr/bin/env bash
# The README's main-job command: set up the environment (fast when already done), then
# run the embedded default (tools/run_embedded.py): the three steps of mutual supervision
# and their controls on the built-in synthetic benchmark, evaluated, with a report
# (WORK_DIR/report.md, report.html, PNGs). Arguments go to tools/run_embedded.py, e.g.
#   bash tools/run_embedded.sh --quick        # a smoke run of a few minutes
#   WORK_DIR=work_dirs/embedded_seed1 bash tools/run_embedded.sh --seed 1
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python tools/run_embedded.py --work-dir "${WORK_DIR:-work_dirs/embedded}" "$@"
