#!/usr/bin/env bash
# Paper-scale GPU evidence on one CUDA device (no datasets, no downloads):
#   bash benchmarks/gpu_check.sh [OUT_DIR] [ITERS]
# For the self-training baseline and for CPSL (paper config, DeepLab v2 ResNet-101,
# 896x512, one image), in fp32 and with --amp: ITERS (default 100) timed iterations
# after 10 untimed ones, s/iter and peak GPU memory; then the Sinkhorn call at
# N = 65,536 + 2,048. Each measurement runs in its own process (peak memory of that
# measurement alone). Writes OUT_DIR/results.jsonl (default work_dirs/gpu_check) and
# prints the markdown table for benchmarks/README.md. See benchmarks/bench_gpu.py.
# DEVICE=cpu CONFIG=<shrunk config> WARMUP=1 run the same steps on the CPU without the
# AMP rows (how tests/test_benchmark_scripts.py checks this script).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${1:-work_dirs/gpu_check}"
ITERS="${2:-100}"
PYTHON="${PYTHON:-.venv/bin/python}"
DEVICE="${DEVICE:-cuda}"
BENCH=(benchmarks/bench_gpu.py --device "$DEVICE" --iters "$ITERS" --warmup "${WARMUP:-10}")
if [ -n "${CONFIG:-}" ]; then BENCH+=(--config "$CONFIG"); fi
PRECISIONS=("")
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
if [ "$DEVICE" = cuda ]; then
    PRECISIONS+=("--amp")
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
        | tee "$OUT/gpu.txt"
fi
for variant in self_training cpsl; do
    for amp in "${PRECISIONS[@]}"; do
        echo "== $variant ${amp:-fp32}" >&2
        "$PYTHON" "${BENCH[@]}" --variant "$variant" $amp | tail -n 1 >> "$RESULTS"
    done
done
echo "== sinkhorn" >&2
"$PYTHON" "${BENCH[@]}" --variant sinkhorn | tail -n 1 >> "$RESULTS"
"$PYTHON" benchmarks/bench_gpu.py --summarize "$RESULTS" | tee "$OUT/table.md"
