#!/usr/bin/env bash
# Pair quality on the real MVTec 3D-AD tire data with the shipped `tiny-tire` prior, on CPU:
# seas run (stage 1, stage 2, generation, downstream segmentation, seas evaluate quality) on all four defect
# types; the held-out two thirds (59 defect images) and test/good are never seen by the prior or the generator.
# Usage: bash benchmarks/pair_quality_tire.sh [DATA_ROOT] [EXTRA seas run FLAGS...]
# PAIR_QUALITY_CONFIG picks another settings file (default benchmarks/pair_quality_tire.yaml); the run folder
# and the docs folder are named after its stem (runs/<stem>, docs/research/pair_quality/<stem> unless default).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
shift || true
config="${PAIR_QUALITY_CONFIG:-benchmarks/pair_quality_tire.yaml}"
stem="$(basename "$config" .yaml)"
run="runs/$stem"
docs=docs/research/pair_quality
[ "$stem" = pair_quality_tire ] || docs="$docs/$stem"
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
start=$(date +%s)
seas run --data "$data" --layout mvtec --product tire --config "$config" \
    --run-dir "$run" "$@"
echo "seconds: $(( $(date +%s) - start ))" | tee "$run/tire/seconds.txt"
mkdir -p "$docs"
cp "$run/tire/evaluation/"{segmentation.json,segmentation.md,quality.json,quality.md,reconstruction.png,reconstruction_defects.png} \
    "$run/tire/seconds.txt" "$docs/"
