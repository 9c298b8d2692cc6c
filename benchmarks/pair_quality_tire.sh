#!/usr/bin/env bash
# Pair quality on the real MVTec 3D-AD tire data with the shipped `tiny-tire` prior, on CPU:
# seas run (stage 1, stage 2, generation, downstream segmentation, seas evaluate quality) on all four defect
# types; the held-out two thirds (59 defect images) and test/good are never seen by the prior or the generator.
# Usage: bash benchmarks/pair_quality_tire.sh [DATA_ROOT] [EXTRA seas run FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
shift || true
run=runs/pair_quality_tire
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
start=$(date +%s)
seas run --data "$data" --layout mvtec --product tire --config benchmarks/pair_quality_tire.yaml \
    --output-dir "$run" "$@"
echo "seconds: $(( $(date +%s) - start ))" | tee "$run/tire/seconds.txt"
mkdir -p docs/benchmarks/pair_quality
cp "$run/tire/evaluation/"{segmentation.json,segmentation.md,quality.json,quality.md,reconstruction.png} \
    "$run/tire/seconds.txt" docs/benchmarks/pair_quality/
