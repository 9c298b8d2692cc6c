#!/usr/bin/env bash
# Rebuild the shipped `tiny-tire` prior from scratch, seeded, on CPU (about 70 minutes on one core of a 2026 Xeon):
#   1. `seas pretrain` on the 80 normal training images (train/good) of ../shared/data/mvtec3d_tire,
#      never test/: VAE first (64-px crops of the 128-px images, bf16 autocast: 2x faster on AMX CPUs),
#      then the decoder alone with the texture term (encoder frozen: sharper reconstructions, same latents),
#      then the text-conditioned U-Net (fp32: faster than bf16 at this size, measured);
#   2. scripts/ship_prior.py converts the result to fp16 into demo/priors/tiny-tire.
# Usage: bash scripts/build_tiny_tire.sh [DATA_ROOT] [RUN_DIR]   (rerun to resume after a stop)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
run="${2:-runs/tiny-tire-prior}"
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0
# Without the malloc thresholds glibc returns large buffers to the kernel and re-faults them every step,
# which here doubles the step time; a second thread gains nothing at these tensor sizes (measured).
export MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
start=$(date +%s)
seas pretrain --data "$data" --product tire --layout mvtec --base-model tiny-slim --model-seed 0 --seed 0 \
    --resolution 128 --vae-steps 12000 --vae-crop 64 --vae-mixed-precision bf16 \
    --vae-decoder-steps 2000 --unet-steps 5000 \
    --batch-size 8 --sample-steps 1000 --checkpointing-steps 500 --output-dir "$run"
python scripts/ship_prior.py "$run" demo/priors/tiny-tire --name tiny-tire \
    --seconds "$(( $(date +%s) - start ))"
