#!/usr/bin/env bash
# Build the patch-scale tire prior `runs/tiny-tire-patches` (the base model of docs/research/configs/pair_quality_patches.yaml),
# seeded, on CPU (15.2 minutes measured on 2 cores):
#   1. `seas patches` cuts ../shared/data/mvtec3d_tire into 128-px patches at the photos' own resolution
#      (4 per normal training image, on the tire; one around each defect; one per test/good image);
#   2. `seas pretrain` fine-tunes the shipped `tiny-tire` (whole tires shrunk 3x to 128 px) on the normal patches
#      (train/good only, never test/): the VAE decoder alone (encoder frozen; L1 + gradient + texture, bf16), the
#      latent scaling factor re-measured on the patches (--rescale-latents: their latents have 1.6x the std of
#      whole tires), then the U-Net at 1e-4 with EMA 0.995 so the exported weights are the new scale's.
# Why: at 128 px of a whole tire a real defect is under one latent cell and is not drawn; in a native patch it
# spans ~3 cells (docs/research/pair_quality/README.md, "Native-resolution patches"). Not shipped.
# Usage: bash docs/research/scripts/build_tiny_tire_patches.sh [DATA_ROOT] [RUN_DIR]   (rerun to resume after a stop)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
run="${2:-runs/tiny-tire-patches}"
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
start=$(date +%s)
seas patches --data "$data" --layout mvtec --product tire --output-dir runs/tire_patches
seas pretrain --data runs/tire_patches --product tire --layout mvtec --base-model tiny-tire --resolution 128 \
    --vae-decoder-steps 800 --vae-crop 128 --vae-mixed-precision bf16 --rescale-latents \
    --unet-steps 1500 --unet-learning-rate 1e-4 --ema-decay 0.995 \
    --batch-size 8 --sample-steps 500 --checkpointing-steps 250 --seed 0 --output-dir "$run"
[ -f "$run/seconds.txt" ] || echo "seconds: $(( $(date +%s) - start ))" | tee "$run/seconds.txt"  # first finish only
