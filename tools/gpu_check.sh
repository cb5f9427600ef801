#!/usr/bin/env bash
# One-command check of a GPU machine (under 5 minutes on one GPU): on a small synthetic
# benchmark it trains step 1 and step 2 briefly, evaluates, trains through tools/dist_train.sh
# (NCCL, 1 process) and with --amp, and runs the model-speed benchmark on the GPU. It fails
# (exit 1, the reason printed) on a failed command (e.g. a device error), a non-finite logged
# loss, a step-1 loss that does not fall (mean of the first vs the last quarter of the logged
# `loss` values of mmengine's scalars.json), or training that did not run on the GPU.
#
#   bash tools/gpu_check.sh                          # on a CUDA machine
#   DEVICE=cpu ITERS=4 bash tools/gpu_check.sh       # dry run of the logic on a CPU
#
#   DEVICE=cuda       cuda | cpu (cpu hides the GPUs; --amp and NCCL are skipped there)
#   ITERS=300         step-1 iterations; step 2, dist and amp runs take fewer (see below)
#   LOG_DIR=work_dirs/gpu_check   logs, data, work dirs and the summary (summary.txt)
#   TEXT_ENCODER      text encoder path, e.g. $(pwd)/.gpu/minilm (default: the config's)
#   PYTHON            interpreter (default: .venv/bin/python if there, else python3)
#   BENCH_ARGS        model_speed.py arguments (default: parts a b c at 1024 px on a GPU;
#                     the tiny config at 128 px on a CPU)
#   STEP_TIMEOUT=240  seconds allowed to each command
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# ---- what depends on the configs (they are being restructured: adapt here) ----
STEP1_CONFIG=configs/mutual/synthetic_step1_joint_tiny.py
STEP2_CONFIG=configs/mutual/synthetic_step2_rl_tiny.py
# derived config: this check's data, vocabulary, text encoder, logging, evaluator
derive_config() {  # derive_config OUT BASE_CONFIG
  cat > "$1" <<EOF
_base_ = ['$ROOT/$2']
data_root = '$DATA/'
model = dict(generation_head=dict(vocab='$DATA/refcoco/vocab.txt')$TEXT_ENCODER_CFG)
train_dataloader = dict(num_workers=2, persistent_workers=False,
                        dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=2, persistent_workers=False,
                       dataset=dict(data_root=data_root))
val_cfg = None
val_dataloader = None
val_evaluator = None
test_evaluator = $EVALUATOR
load_from = None  # step 1 from scratch here (the embedded default pre-trains it first)
default_hooks = dict(logger=dict(interval=$LOG_INTERVAL),
                     checkpoint=dict(interval=100000, max_keep_ckpts=1))
EOF
}
# every training run: its length (the checkpoint is written at the end)
iters_options() { echo "train_cfg.max_iters=$1 default_hooks.checkpoint.interval=$1"; }
# ---- end of the config-specific part ----

DEVICE=${DEVICE:-cuda}
ITERS=${ITERS:-300}
min() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
STEP2_ITERS=${STEP2_ITERS:-$(min "$ITERS" 100)}
DIST_ITERS=${DIST_ITERS:-$(min "$ITERS" 60)}
AMP_ITERS=${AMP_ITERS:-$(min "$ITERS" 150)}
LOG_INTERVAL=${LOG_INTERVAL:-$(( ITERS >= 60 ? ITERS / 30 : 1 ))}
LOG_DIR=${LOG_DIR:-work_dirs/gpu_check}
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)
DATA=$LOG_DIR/data
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
PY=$PYTHON
export PYTHON PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
TEXT_ENCODER_CFG=""
if [ -e "${TEXT_ENCODER:-}" ]; then TEXT_ENCODER=$(cd "$TEXT_ENCODER" && pwd); fi
[ -n "${TEXT_ENCODER:-}" ] && TEXT_ENCODER_CFG=", text_encoder=dict(name_or_path='$TEXT_ENCODER')"
if [ "$DEVICE" = cpu ]; then
  export CUDA_VISIBLE_DEVICES=
  BENCH_ARGS=${BENCH_ARGS:-"--config $STEP1_CONFIG --img-size 128 --parts a b c --reps 1 --device cpu"}
else
  BENCH_ARGS=${BENCH_ARGS:-"--img-size 1024 --parts a b c --device cuda"}
fi
SUMMARY=$LOG_DIR/summary.txt
: > "$SUMMARY"
failed=0
t_start=$(date +%s)

note() { echo "$*" | tee -a "$SUMMARY"; }
fail() { note "FAIL  $*"; failed=1; }

# run NAME CMD...: the command's output goes to LOG_DIR/NAME.log; its status is noted
run() {
  local name=$1; shift
  local t0=$(date +%s) rc
  echo "[gpu_check] $name: $*" >&2
  timeout "$STEP_TIMEOUT" "$@" > "$LOG_DIR/$name.log" 2>&1
  rc=$?
  local dt=$(( $(date +%s) - t0 ))
  if [ $rc -ne 0 ]; then
    local why="exit $rc"
    [ $rc -eq 124 ] && why="timed out after $STEP_TIMEOUT s"
    grep -qiE 'CUDA error|device-side assert|cuda runtime error|NCCL error|out of memory' \
      "$LOG_DIR/$name.log" && why="$why, device error"
    fail "$name ($why, ${dt} s): last lines of $LOG_DIR/$name.log:"
    # the root cause, which a launcher's report (torchrun) would hide
    sed 's/^\[rank[0-9]*\]: //' "$LOG_DIR/$name.log" \
      | grep -E '^[A-Za-z_.]*(Error|Exception)\b' | grep -v ChildFailedError | tail -n 1 \
      | sed 's/^/      cause: /' | tee -a "$SUMMARY"
    tail -n 15 "$LOG_DIR/$name.log" | sed 's/^/      /' | tee -a "$SUMMARY"
    return 1
  fi
  note "ok    $name (${dt} s)"
}

# check_losses NAME WORK_DIR MODE: MODE 'falls' (finite, and the loss falls) or 'finite'
check_losses() {
  local out
  out=$("$PY" - "$2" "$3" "$DEVICE" <<'PY'
import glob, json, math, os, sys
work_dir, mode, device = sys.argv[1:]
files = sorted(glob.glob(os.path.join(work_dir, '*', 'vis_data', 'scalars.json')),
               key=os.path.getmtime)
if not files:
    print('FAIL no scalars.json under', work_dir); sys.exit()
rows = [json.loads(line) for line in open(files[-1]) if line.strip()]
rows = [r for r in rows if 'loss' in r]
if not rows:
    print('FAIL no logged loss in', files[-1]); sys.exit()
bad = [(r.get('iter', r.get('step')), k) for r in rows for k, v in r.items()
       if (k == 'loss' or k.startswith('loss_') or k == 'reward')
       and isinstance(v, (int, float)) and not math.isfinite(v)]
if bad:
    print(f'FAIL non-finite logged values (iter, key): {bad[:5]}'); sys.exit()
if device == 'cuda' and not max(r.get('memory', 0) for r in rows) > 0:
    print('FAIL no GPU memory logged: training did not run on the GPU'); sys.exit()
loss = [r['loss'] for r in rows]
q = max(1, len(loss) // 4)
first, last = sum(loss[:q]) / q, sum(loss[-q:]) / q
msg = f'loss {first:.3f} -> {last:.3f} ({len(loss)} logged)'
if 'reward' in rows[0]:
    msg += f', reward {rows[0]["reward"]:.3f} -> {rows[-1]["reward"]:.3f}'
if mode == 'falls' and len(loss) < 4:
    print(f'ok {msg}; too few values to judge whether it falls')
elif mode == 'falls' and not last < first:
    print(f'FAIL the loss does not fall: {msg}')
else:
    print(f'ok {msg}')
PY
)
  case "$out" in
    ok*) note "      $1: ${out#ok }" ;;
    *) fail "$1: ${out#FAIL }" ;;
  esac
}

finish() {
  note "gpu_check: $([ $failed -eq 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - t_start )) s (summary: $SUMMARY)"
  exit $failed
}

latest_ckpt() { ls -t "$1"/iter_*.pth 2>/dev/null | head -n 1; }

# ---- environment ----
note "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) device=$DEVICE iters=$ITERS/$STEP2_ITERS/$DIST_ITERS/$AMP_ITERS (step1/step2/dist/amp) log_dir=$LOG_DIR"
"$PY" - "$DEVICE" > "$LOG_DIR/env.log" 2>&1 <<'PY'
import sys
import torch
import mmcv, mmdet, mmengine
import mmrefmutual  # noqa: F401 (deformable-attention routing)
from mmcv.ops import get_compiling_cuda_version
device = sys.argv[1]
print(f'torch {torch.__version__} (CUDA {torch.version.cuda}), mmcv {mmcv.__version__} '
      f'(ops CUDA: {get_compiling_cuda_version()}), mmdet {mmdet.__version__}, '
      f'mmengine {mmengine.__version__}')
if device == 'cuda':
    if not torch.cuda.is_available():
        sys.exit('DEVICE=cuda but torch sees no GPU')
    from mmrefmutual.utils.mmcv_compat import deform_attn_kernel_status
    usable, why = deform_attn_kernel_status(torch.device('cuda'))
    print(f'GPU {torch.cuda.get_device_name(0)}, capability '
          f'{torch.cuda.get_device_capability(0)}; deformable attention: '
          f"{'mmcv CUDA kernel' if usable else 'PyTorch implementation: ' + why}")
    x = torch.randn(256, 256, device='cuda')
    assert torch.isfinite(x @ x).all()
else:
    print('CPU only (dry run)')
PY
rc=$?
sed 's/^/      /' "$LOG_DIR/env.log" | tee -a "$SUMMARY"
if [ $rc -ne 0 ]; then fail "environment"; finish; fi
if "$PY" -c "import pycocoevalcap" 2>/dev/null && command -v java >/dev/null; then
  EVALUATOR="[dict(type='RESMetric'), dict(type='REGMetric'),
             dict(type='SyntheticOracleMetric', ann_file='$DATA/refcoco/instances.json')]"
  has_reg=1
else
  EVALUATOR="[dict(type='RESMetric')]"
  has_reg=""
  note "      no pycocoevalcap or Java: evaluating RES only"
fi

# ---- data ----
if [ ! -f "$DATA/refcoco/vocab.txt" ]; then
  run data "$PY" tools/dataset_converters/make_synthetic_refcoco.py "$DATA" --num-images 200 \
      --ref-image-ratio 0.8 --seed 0 &&
    run vocab "$PY" tools/dataset_converters/build_vocab.py "$DATA/refcoco/refs(unc).p" \
      --split train --out "$DATA/refcoco/vocab.txt" || { note "no data: stopping"; finish; }
fi
derive_config "$LOG_DIR/step1.py" "$STEP1_CONFIG"
derive_config "$LOG_DIR/step2.py" "$STEP2_CONFIG"

# ---- step 1, evaluation, step 2 ----
# shellcheck disable=SC2046
if run step1 "$PY" tools/train.py "$LOG_DIR/step1.py" --work-dir "$LOG_DIR/step1" \
    --cfg-options $(iters_options "$ITERS"); then
  check_losses step1 "$LOG_DIR/step1" falls
  n=$(grep -c 'multi_scale_deformable_attn_pytorch' "$LOG_DIR/step1.log")
  [ "$n" -gt 0 ] && note "      step1: deformable attention took the PyTorch path ($n warning(s) logged)"
  CKPT1=$(latest_ckpt "$LOG_DIR/step1")
  if run eval_step1 "$PY" tools/test.py "$LOG_DIR/step1.py" "$CKPT1" --splits val \
      --work-dir "$LOG_DIR/eval_step1"; then
    grep -E '^\|' "$LOG_DIR/eval_step1.log" | sed 's/^/      /' | tee -a "$SUMMARY"
  fi
  # shellcheck disable=SC2046
  if run step2 "$PY" tools/train.py "$LOG_DIR/step2.py" --work-dir "$LOG_DIR/step2" \
      --cfg-options load_from="$CKPT1" $(iters_options "$STEP2_ITERS"); then
    check_losses step2 "$LOG_DIR/step2" finite
    if [ -n "$has_reg" ] && run eval_step2 "$PY" tools/test.py "$LOG_DIR/step2.py" \
        "$(latest_ckpt "$LOG_DIR/step2")" --splits val --work-dir "$LOG_DIR/eval_step2"; then
      grep -E '^\|' "$LOG_DIR/eval_step2.log" | sed 's/^/      /' | tee -a "$SUMMARY"
      # the same evaluation with REG decoding replayed as CUDA graphs (test_cfg.cuda_graph)
      if [ "$DEVICE" = cuda ] && run eval_step2_graph "$PY" tools/test.py "$LOG_DIR/step2.py" \
          "$(latest_ckpt "$LOG_DIR/step2")" --splits val --work-dir "$LOG_DIR/eval_step2_graph" \
          --cfg-options model.test_cfg.cuda_graph=True; then
        grep -E '^\|' "$LOG_DIR/eval_step2_graph.log" | sed 's/^/      /' | tee -a "$SUMMARY"
      fi
    fi
  fi
else
  note "skip  eval_step1, step2: no step-1 checkpoint"
fi

# ---- distributed launcher (NCCL on a GPU, gloo on a CPU) ----
# shellcheck disable=SC2046
if run dist_train env PORT=${PORT:-29533} PYTHON="$PY" bash tools/dist_train.sh \
    "$LOG_DIR/step1.py" 1 --work-dir "$LOG_DIR/dist" --cfg-options $(iters_options "$DIST_ITERS"); then
  check_losses dist_train "$LOG_DIR/dist" finite
  if [ "$DEVICE" = cuda ]; then
    grep -q "'backend': 'nccl'\|backend='nccl'" "$LOG_DIR/dist_train.log" \
      && note "      dist_train: NCCL" || fail "dist_train: NCCL not found in the logged config"
  else
    note "      dist_train: gloo on the CPU (NCCL is checked on a GPU only)"
  fi
fi

# ---- mixed precision ----
if [ "$DEVICE" = cuda ]; then
  # shellcheck disable=SC2046
  run amp "$PY" tools/train.py "$LOG_DIR/step1.py" --amp --work-dir "$LOG_DIR/amp" \
      --cfg-options $(iters_options "$AMP_ITERS") && check_losses amp "$LOG_DIR/amp" falls
else
  note "skip  amp: mixed precision is checked on a GPU only"
fi

# ---- speed ----
TE_ARG=()
[ -n "${TEXT_ENCODER:-}" ] && TE_ARG=(--text-encoder "$TEXT_ENCODER")
# shellcheck disable=SC2086
if run benchmark "$PY" tools/benchmark/model_speed.py $BENCH_ARGS ${TE_ARG[@]+"${TE_ARG[@]}"}; then
  grep -E '^(device|config|\((a|b|c)\))' "$LOG_DIR/benchmark.log" | sed 's/^/      /' \
    | tee -a "$SUMMARY"
  # REG decoding replayed as a CUDA graph must give the tokens of the same search run eagerly
  if grep -q 'with a CUDA graph' "$LOG_DIR/benchmark.log"; then
    grep -q 'tokens DIFFER' "$LOG_DIR/benchmark.log" \
      && fail "benchmark: the CUDA-graph search gives other tokens than eager decoding"
    grep -q 'graphs captured 0;' "$LOG_DIR/benchmark.log" \
      && fail "benchmark: cuda_graph=True captured no graph on the GPU"
  fi
fi

finish
