#!/usr/bin/env bash
# The one script to run when a GPU is lent (about 8 minutes on one CUDA GPU, no network needed):
# SD-sized train/generate timings and memory (sd15-random at 512²) and a `seas run` smoke, written
# to OUTDIR/device_check.{json,md}. `--smoke` runs the same sequence with the tiny model on any machine.
# Usage: bash benchmarks/device_check.sh OUTDIR [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] && . .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0
export MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
exec python benchmarks/device_check.py "$@"
