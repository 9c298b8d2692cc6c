#!/usr/bin/env bash
# Set up ./.venv, then run the whole pipeline (inspect -> train -> train-mask -> generate) on the
# bundled tire sample with the built-in tiny model on CPU. The tiny model has random weights:
# this demonstrates the plumbing, not image quality (see the README for real checkpoints).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
seas run --base-model tiny --resolution 64 --max-steps 20 --num-per-type 4 --output-dir runs/quickstart "$@"
