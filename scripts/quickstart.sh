#!/usr/bin/env bash
# Set up ./.venv, then run the whole pipeline (inspect -> train -> train-mask -> generate -> evaluate ->
# report) on the bundled tire sample with the shipped tiny-tire prior on CPU (settings: configs/cpu-demo.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
# glibc would otherwise hand large buffers back to the kernel and re-fault them every step (2x slower here).
export MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
seas run --config configs/cpu-demo.yaml --run-dir runs/quickstart "$@"
