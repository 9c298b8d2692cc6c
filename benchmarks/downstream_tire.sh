#!/usr/bin/env bash
# Downstream benchmark on the real MVTec 3D-AD tire data at CPU scale (about 10 minutes on 2 cores):
# the tiny model (random prior: no gain from SeaS is expected here) trained and sampled at 64 px,
# then the same segmenter trained on real only / + Perlin / + CutPaste / + SeaS pairs, evaluated at 128 px.
# Usage: bash benchmarks/downstream_tire.sh [DATA_ROOT]   (default ../shared/data/mvtec3d_tire)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
run=runs/downstream_tire
export HF_HUB_OFFLINE=1
seas run --data "$data" --layout mvtec --product tire --base-model tiny --resolution 64 --max-steps 100 --no-evaluate \
    --num-per-type 20 --run-dir "$run"
seas evaluate segmentation --run-dir "$run/tire" --eval-resolution 128 --seg-epochs 30
mkdir -p docs/benchmarks/downstream_tire
cp "$run/tire/evaluation/segmentation.json" "$run/tire/evaluation/segmentation.md" docs/benchmarks/downstream_tire/
