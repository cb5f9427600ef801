#!/usr/bin/env bash
# The README's main-job command: set up the environment, generate the built-in synthetic
# referring benchmark (RefCOCO format), train step 1 (joint RES + REG) of the tiny CPU
# model on it, then step 2 (disambiguation supervision of the REG head), and evaluate
# both on val / testA / testB, printing the paper-style tables.
#
#   MAX_ITERS=4000   step-1 iterations (~35 min on 2 CPU cores)
#   STEP2_ITERS=1000 step-2 iterations (~4 min)
#   NUM_IMAGES=6000  size of the synthetic benchmark (half with refs: 2400 train images);
#                    regenerated when this or the seed changes
#   WORK_DIR=work_dirs/synthetic_step1_joint_tiny
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=.venv/bin/python
MAX_ITERS=${MAX_ITERS:-4000}
STEP2_ITERS=${STEP2_ITERS:-1000}
NUM_IMAGES=${NUM_IMAGES:-6000}
DATA=data/synthetic
WORK_DIR=${WORK_DIR:-work_dirs/synthetic_step1_joint_tiny}
CONFIG=configs/mutual/synthetic_step1_joint_tiny.py

GEN_ARGS="--num-images $NUM_IMAGES --ref-image-ratio 0.5 --seed 0"
if [ ! -f "$DATA/refcoco/refs(unc).p" ] || [ "$(cat "$DATA/.generated_with" 2>/dev/null)" != "$GEN_ARGS" ]; then
  rm -rf "$DATA/coco" "$DATA/refcoco" "$DATA/refcoco+"  # only what the generator writes
  # shellcheck disable=SC2086
  $PY tools/dataset_converters/make_synthetic_refcoco.py "$DATA" $GEN_ARGS
  echo "$GEN_ARGS" > "$DATA/.generated_with"
fi
[ -f "$DATA/refcoco/vocab.txt" ] || $PY tools/dataset_converters/build_vocab.py \
    "$DATA/refcoco/refs(unc).p" --split train --out "$DATA/refcoco/vocab.txt"

$PY tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
    --cfg-options train_cfg.max_iters="$MAX_ITERS" train_cfg.val_interval="$MAX_ITERS" \
    param_scheduler.end="$MAX_ITERS" \
    "param_scheduler.milestones=[$((MAX_ITERS * 2 / 3)),$((MAX_ITERS * 8 / 9))]"
CKPT=$(ls -t "$WORK_DIR"/iter_*.pth | head -n 1)

# Step 2: only the generation head learns, rewarded by the frozen selection head (+ CIDEr).
STEP2_DIR="$WORK_DIR/step2_rl"
$PY tools/train.py configs/mutual/synthetic_step2_rl_tiny.py --work-dir "$STEP2_DIR" \
    --cfg-options load_from="$CKPT" train_cfg.max_iters="$STEP2_ITERS" \
    default_hooks.checkpoint.interval="$STEP2_ITERS" \
    val_cfg=None val_dataloader=None val_evaluator=None
CKPT2=$(ls -t "$STEP2_DIR"/iter_*.pth | head -n 1)

# Rb-Acc needs a referee: the step-1 model's own selection head (the same for both steps,
# since step 2 freezes it; the paper uses a separately trained one, see README).
for ckpt in "$CKPT" "$CKPT2"; do
  echo "[main] evaluating $ckpt"
  $PY tools/test.py "$CONFIG" "$ckpt" --work-dir "$(dirname "$ckpt")/test" \
      --splits val testA testB --cfg-options model.referee.checkpoint="$CKPT"
done
