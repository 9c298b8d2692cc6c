#!/usr/bin/env bash
# Fine-tune the shipped `tiny-tire` prior (128 px) to 256 px, seeded, on CPU: the base model of
# docs/research/configs/pair_quality_tire_256.yaml. Same 80 train/good images (never test/):
#   1. the VAE decoder alone (encoder frozen, so latents keep their meaning), 128-px crops of the
#      256-px images, L1 + gradient + texture terms, bf16 autocast;
#   2. the U-Net on the 32 x 32 latents at 1e-4 (the 1e-5 default for trained models is for a model that
#      already knows the scale), EMA 0.995 so that the exported weights are the new scale's.
# Why 256 px: at 128 px a real tire defect is smaller than one latent cell and the VAE paints it over
# (docs/research/pair_quality/README.md). Not shipped in the package; the run folder is the model.
# Usage: bash docs/research/scripts/build_tiny_tire_256.sh [DATA_ROOT] [RUN_DIR]   (rerun to resume after a stop)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
run="${2:-runs/tiny-tire-256}"
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
start=$(date +%s)
seas pretrain --data "$data" --product tire --layout mvtec --base-model tiny-tire --resolution 256 \
    --vae-decoder-steps 1000 --vae-crop 128 --vae-mixed-precision bf16 \
    --unet-steps 800 --unet-learning-rate 1e-4 --ema-decay 0.995 \
    --batch-size 8 --sample-steps 400 --checkpointing-steps 200 --seed 0 --output-dir "$run"
[ -f "$run/seconds.txt" ] || echo "seconds: $(( $(date +%s) - start ))" | tee "$run/seconds.txt"  # first finish only
