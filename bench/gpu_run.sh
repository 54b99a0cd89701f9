#!/usr/bin/env bash
# The one command for a lent GPU machine (docs/training.md, "On a GPU"): install what that machine lacks
# (diffusers, carried as a wheel in .whl/), then bench/gpu.py with the photos carried in .gpu-data/.
# Here, for a CPU dry run of the same code paths: bash bench/gpu_run.sh --dry-run
set -u -o pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
out=${OUT:-gpu-out}
mkdir -p "$out"
if [ -n "${OUT:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_run: expected the diffusers wheel in .whl/ (see docs/training.md)"; exit 1; }
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python=python3
else
    python=${PYTHON:-.venv/bin/python}
fi
data=${DATA:-.gpu-data}
masks=()
[ -d "$data/masks" ] && masks=(--masks "$data/masks")
"$python" -m bench.gpu --data "$data/images" "${masks[@]}" --out "$out" "$@" 2>&1 | tee "$out/log.txt"
