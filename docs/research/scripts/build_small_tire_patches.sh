#!/usr/bin/env bash
# Build `runs/small-tire-patches`: the patch-scale tire prior of docs/research/scripts/build_tiny_tire_patches.sh (run that first)
# with its 3.2 M-parameter U-Net replaced by a new, seeded 34 M one (the built-in `small` architecture, 10x wider),
# trained from scratch on the same 128-px normal patches (train/good only) and the same VAE and text encoder.
# 5,000 steps, loss 0.252 (steps 1-500) -> 0.093 (4,501-5,000); 78.4 min measured on 2 cores, of which the first
# 15 ran beside a test job (about 65 min undisturbed, ~0.75 s per step).
# Why: the tiny U-Net redraws tire tread as soft blocks at patch scale, so it cannot draw a defect into it
# (docs/research/pair_quality/README.md, "A wider U-Net"); this tests whether width is what is missing.
# Usage: bash docs/research/scripts/build_small_tire_patches.sh [PATCH_DATA] [BASE_PRIOR] [RUN_DIR]   (rerun to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-runs/tire_patches}"
base="${2:-runs/tiny-tire-patches}"
run="${3:-runs/small-tire-patches}"
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
start=$(date +%s)
seas pretrain --data "$data" --product tire --layout mvtec --base-model "$base" --resolution 128 \
    --fresh-unet small --model-seed 0 --unet-steps 5000 --unet-learning-rate 3e-4 --ema-decay 0.999 \
    --batch-size 8 --sample-steps 1000 --checkpointing-steps 250 --seed 0 --output-dir "$run"
[ -f "$run/seconds.txt" ] || echo "seconds: $(( $(date +%s) - start ))" | tee "$run/seconds.txt"  # first finish only
