#!/usr/bin/env bash
# Set up ./.venv and run the main job on the bundled tire sample with the tiny CPU model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
seas inspect "$@"
