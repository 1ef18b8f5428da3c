#!/usr/bin/env bash
# Runs on a lent GPU machine (see bench/gpu_kit.sh): installs the carried wheels beside the image's
# torch, then the benchmark on CUDA with the full-size random SenseVoiceSmall and the tiny FunASR
# model. Figures go to stdout and, as JSON, to $OUT. Arguments go to both benchmark runs.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu-kit/wheels/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
out=${OUT:-data/bench-results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for model in sensevoice-random tiny-funasr; do
    python3 -m bench.engine_throughput --device cuda --model "$model" --json "$out/$model.json" "$@"
done
