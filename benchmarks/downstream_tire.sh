#!/usr/bin/env bash
# The downstream claim on the full MVTec 3D-AD tire data, chosen on validation and measured once on test (CPU, hours).
#
# 1. seas run with the full-data settings (benchmarks/downstream_tire.yaml: fp32 on CPU, a short stage 2, since placed
#    masks do not use the mask head) and the quickstart's mask recipe (placed training masks, defect start, photo
#    kept around the change), no evaluation.
# 2. The strength is the one knob chosen: pairs at each of STRENGTHS (same seeds and masks), each scored on the
#    validation half only (--split val, the seas row, three segmenter seeds); the best mean pixel AP wins.
# 3. On the test half, once: real only, the textbook and the on-object Perlin and CutPaste, the no-model paste
#    and SeaS at the chosen strength, five seeds, paired t-tests against real only and the paste.
# Every step resumes (seas run's checkpoints, generation's finished pairs, evaluate's finished segmenters), so a
# killed run continues where it stopped when started again.
# Usage: bash benchmarks/downstream_tire.sh [DATA_ROOT]   (default ../shared/data/mvtec3d_tire)
# CONFIG, RUN, DOCS, STRENGTHS, SEG_REPEATS, VAL_REPEATS override the settings file, the run and docs folders, the candidates and
# the seed counts (a smoke run: a small CONFIG on demo/sample_data).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mvtec3d_tire}"
config="${CONFIG:-benchmarks/downstream_tire.yaml}"
run="${RUN:-runs/downstream_tire}"
pairs="${run}_pairs"
docs="${DOCS:-docs/benchmarks/downstream_tire}"
strengths="${STRENGTHS:-0.2 0.4 0.7}"
seeds="${SEG_REPEATS:-5}"
val_seeds="${VAL_REPEATS:-3}"  # choosing needs fewer seeds than claiming
. .venv/bin/activate
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0 MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
placed=(--mask-source train --placed-start defect --placed-turn defect --placed-background photo --normals 0)
mkdir -p "$docs"
start=$(date +%s)
seas run --data "$data" --layout mvtec --product tire --config "$config" \
    --mixed-precision auto "${placed[@]}" --no-evaluate --no-report --run-dir "$run"
echo "stages done: $(( $(date +%s) - start )) s"
for s in $strengths; do
    seas generate --run-dir "$run/tire" --config "$config" --mixed-precision auto \
        "${placed[@]}" --strength "$s" --output-dir "$pairs/strength_$s"
    seas evaluate segmentation --run-dir "$run/tire" --config "$config" \
        --generated "$pairs/strength_$s" --split val --variants seas --seg-repeats "$val_seeds"
    cp "$run/tire/evaluation/segmentation.json" "$docs/val_strength_$s.json"
    cp "$run/tire/evaluation/segmentation.md" "$docs/val_strength_$s.md"
    echo "strength $s on val: $(( $(date +%s) - start )) s"
done
chosen=$(python - "$docs" $strengths <<'EOF'
import json, sys
from pathlib import Path
docs, strengths = Path(sys.argv[1]), sys.argv[2:]
scores = {s: json.loads((docs / f"val_strength_{s}.json").read_text())["variants"]["seas"]["mean"]["pixel_ap"] for s in strengths}
best = max(strengths, key=lambda s: scores[s])
(docs / "selection.json").write_text(json.dumps({"metric": "pixel_ap", "split": "val", "scores": scores, "chosen": best}, indent=2) + "\n")
print(best)
EOF
)
echo "chosen on val: strength $chosen"
seas evaluate segmentation --run-dir "$run/tire" --config "$config" \
    --generated "$pairs/strength_$chosen" --split test --seg-repeats "$seeds" \
    --variants real perlin-textbook cutpaste-textbook perlin cutpaste paste seas
cp "$run/tire/evaluation/"{segmentation.json,segmentation.md,training_sets.png} "$docs/"
cp "$run/tire/heldout_halves.json" "$docs/"
echo "seconds: $(( $(date +%s) - start ))" | tee "$docs/seconds.txt"
