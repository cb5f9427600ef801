#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment. Idempotent and fast on re-runs:
# every step is skipped when what it installs is already there, and mmcv's compiled wheel is
# cached by pip, so it is never rebuilt once built.
#
#   VENV=.venv (default)  where the environment lives; an existing torch inside it is kept.
#   TORCH_SPEC            torch requirement when torch is missing (default: torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PY="$VENV/bin/python"
stamp="$VENV/.mmrefmutual-setup"
want=$(cat requirements/*.txt setup.cfg setup.py 2>/dev/null | sha1sum | cut -c1-16)

# the stamp says these requirements were installed; find_spec checks nothing was removed
# without paying for importing torch
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "
import importlib.util as u
assert all(u.find_spec(m) for m in ('torch', 'mmcv', 'mmdet', 'mmrefmutual'))" 2>/dev/null; then
  exit 0  # already set up for these requirements
fi
t0=$(date +%s)
[ -x "$PY" ] || python3 -m venv "$VENV"
pip_() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

# 1. torch first: an unpinned torch pulled in by a dependency would fetch a multi-GB CUDA build.
"$PY" -c "import torch" 2>/dev/null || pip_ "$TORCH_SPEC"
# 2. mmcv 2.1.0 has no wheel for recent torch: build it with its C++ ops (pip caches the wheel).
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  pip_ "setuptools>=77,<81" wheel ninja numpy
  echo "[setup] installing mmcv 2.1.0 with ops (pip builds it from source once, 7-20 min on 2 cores, then reuses its cached wheel)" >&2
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} pip_ --no-build-isolation mmcv==2.1.0
fi
# 3. the rest; the pinned torch stays because it satisfies every torch range below.
pip_ -r requirements/runtime.txt -r requirements/tests.txt
# 4. the project itself, editable.
pip_ --no-build-isolation --no-deps -e .
echo "$want" > "$stamp"
echo "[setup] environment ready in $(( $(date +%s) - t0 )) s" >&2
