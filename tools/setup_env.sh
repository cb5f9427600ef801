#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment. Idempotent and fast on re-runs:
# every step is skipped when what it installs is already there, and mmcv's compiled wheel is
# cached by pip, so it is never rebuilt once built.
#
#   VENV=.venv (default)  where the environment lives; an existing torch inside it is kept.
#   TORCH_SPEC            torch requirement when torch is missing (default: torch==2.13.0).
#   TORCH_INDEX_URL       index to take torch from, e.g. https://download.pytorch.org/whl/cu124
#                         for a CUDA build (TORCH_SPEC='torch==2.5.1').
#
# mmcv 2.1.0 is built from source with its C++ ops, matching the torch of the environment:
#   - CPU torch: CPU ops (as always).
#   - CUDA torch and a CUDA <= 12 toolkit (nvcc, from CUDA_HOME or PATH) of torch's CUDA
#     major version: CUDA ops too, for the local GPU's architecture (TORCH_CUDA_ARCH_LIST,
#     default: from torch.cuda.get_device_capability(); all of them without a visible GPU).
#   - CUDA torch without such a toolkit, or CUDA 13 (mmcv 2.1.0 cannot compile its CUDA
#     kernels there, open-mmlab/mmcv#3308): CPU ops only; mmrefmutual then runs mmcv's
#     deformable attention through its PyTorch implementation on the GPU, with a warning
#     (mmrefmutual/utils/mmcv_compat.py).
#   MMCV_FIND_LINKS       take a prebuilt mmcv wheel from there instead of building, e.g.
#                         https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html
#                         or 'openmmlab' for that URL of the environment's torch/CUDA pair
#                         (OpenMMLab publishes mmcv 2.1.0 wheels for torch 2.0/2.1 only); the
#                         build above is the fallback when no wheel matches.
# With a CUDA torch, pip caches the built mmcv wheel apart from the CPU one (one cache per
# torch, CUDA and architecture under ~/.cache/mmrefmutual), so that neither is reused for the
# other. Re-running keeps an installed mmcv 2.1.0: `pip uninstall mmcv` to build it again.
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
"$PY" -c "import torch" 2>/dev/null || pip_ ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
# 2. mmcv 2.1.0 has no wheel for recent torch: build it with its C++ ops (pip caches the wheel).
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  pip_ "setuptools>=77,<81" wheel ninja numpy
  # torch version, its CUDA version ('' for a CPU build) and the GPU's compute capability
  read -r torch_ver torch_cuda gpu_cap <<< "$("$PY" -c "
import torch
cuda = torch.version.cuda or ''
cap = '%d.%d' % torch.cuda.get_device_capability() if cuda and torch.cuda.is_available() else ''
print(torch.__version__.split('+')[0], cuda or '-', cap or '-')")"
  [ "$torch_cuda" = "-" ] && torch_cuda=""
  [ "$gpu_cap" = "-" ] && gpu_cap=""
  installed=""
  if [ -n "${MMCV_FIND_LINKS:-}" ]; then
    links=$MMCV_FIND_LINKS
    if [ "$links" = openmmlab ]; then
      variant=cpu; [ -n "$torch_cuda" ] && variant="cu${torch_cuda//./}"
      links="https://download.openmmlab.com/mmcv/dist/$variant/torch${torch_ver%.*}/index.html"
    fi
    echo "[setup] looking for a prebuilt mmcv 2.1.0 wheel in $links" >&2
    if pip_ --only-binary=mmcv -f "$links" mmcv==2.1.0; then
      installed=1
    else
      echo "[setup] no prebuilt mmcv 2.1.0 wheel there for torch $torch_ver${torch_cuda:+ + CUDA $torch_cuda}: building it" >&2
    fi
  fi
  if [ -z "$installed" ] && [ -z "$torch_cuda" ]; then
    echo "[setup] installing mmcv 2.1.0 with ops (pip builds it from source once, 7-20 min on 2 cores, then reuses its cached wheel)" >&2
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} pip_ --no-build-isolation mmcv==2.1.0
  elif [ -z "$installed" ]; then
    nvcc=""
    for c in "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc; do
      if [ -n "$c" ] && [ -x "$c" ]; then nvcc=$c; break; fi
    done
    nvcc_ver=""
    if [ -n "$nvcc" ]; then
      nvcc_ver=$("$nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
    fi
    arch=${TORCH_CUDA_ARCH_LIST:-$gpu_cap}
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/mmrefmutual/pip-mmcv-torch$torch_ver-cu$torch_cuda"
    if [ -n "$nvcc_ver" ] && [ "${nvcc_ver%%.*}" -le 12 ] && [ "${nvcc_ver%%.*}" = "${torch_cuda%%.*}" ]; then
      echo "[setup] installing mmcv 2.1.0 with CPU and CUDA $nvcc_ver ops for GPU architecture ${arch:-all (no GPU visible)} (built once, 10-40 min, then cached)" >&2
      ( export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$nvcc")")} FORCE_CUDA=1 MMCV_WITH_OPS=1 \
          MAX_JOBS=${MAX_JOBS:-$(nproc)}
        if [ -n "$arch" ]; then export TORCH_CUDA_ARCH_LIST="$arch"; fi
        pip_ --no-build-isolation --cache-dir "$cache-sm${arch:-all}" mmcv==2.1.0 )
    else
      if [ -z "$nvcc_ver" ]; then why="no CUDA toolkit (nvcc) was found"
      elif [ "${nvcc_ver%%.*}" -gt 12 ]; then
        why="mmcv 2.1.0 cannot build its CUDA kernels with CUDA $nvcc_ver (open-mmlab/mmcv#3308)"
      else why="nvcc is CUDA $nvcc_ver but torch was built with CUDA $torch_cuda"; fi
      echo "[setup] installing mmcv 2.1.0 with CPU ops only: $why. On GPUs, mmrefmutual then runs mmcv's deformable attention with its PyTorch implementation (same results, slower pixel decoder)" >&2
      # CUDA hidden: mmcv's setup.py compiles CUDA sources whenever it sees a GPU
      CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        pip_ --no-build-isolation --cache-dir "$cache-cpuops" mmcv==2.1.0
    fi
  fi
fi
# 3. the rest; the pinned torch stays because it satisfies every torch range below.
pip_ -r requirements/runtime.txt -r requirements/tests.txt
# 4. the project itself, editable.
pip_ --no-build-isolation --no-deps -e .
echo "$want" > "$stamp"
echo "[setup] environment ready in $(( $(date +%s) - t0 )) s" >&2
