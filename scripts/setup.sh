#!/usr/bin/env bash
# Create ./.venv (once) and install seas into it, CPU torch first.
# An unpinned `pip install torch` pulls gigabytes of CUDA wheels; on a GPU machine set
# SEAS_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" (or your CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# shellcheck disable=SC2086
python -m pip install -q ${SEAS_TORCH:-torch==2.13.0}
python -m pip install -q -e ".${extras}"
