#!/usr/bin/env bash
# SFT throughput (tokens/s, MFU) of a ~350M model built from config; see bench/train_gpu.py.
#   bash bench/train_gpu.sh [--steps 30 --batch-size 8 --seq-len 1024]
# Several GPUs: NUM_GPUS=8 bash bench/train_gpu.sh  (runs under `accelerate launch`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: bench/train_gpu.sh needs a CUDA GPU and a CUDA build of torch (this one: $("$PY" -c 'import torch; print(torch.__version__)')); nothing was run" >&2
  exit 2
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
NUM_GPUS=${NUM_GPUS:-$("$PY" -c 'import torch; print(torch.cuda.device_count())')}
if [ "$NUM_GPUS" -gt 1 ]; then
  exec "$PY" -m accelerate.commands.launch --num_processes "$NUM_GPUS" --mixed_precision bf16 bench/train_gpu.py "$@"
fi
exec "$PY" bench/train_gpu.py "$@"
