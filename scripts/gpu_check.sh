#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): on a CUDA GPU, bench_train.py at the CREMA-D and VGGSound shapes
# (normal and ogm_ge), the gpus executor on a handful of gpu-profile runs, and chapter 09 at the gpu
# profile, in under 8 minutes; figures and provenance in benchmarks/gpu_figures.json. Without a GPU, or
# with --dry, the same phases on the CPU at tiny shapes (under 2 minutes; benchmarks/gpu_figures.dry.json).
#   bash scripts/gpu_check.sh          # GPU if one is visible, else the dry mode
#   bash scripts/gpu_check.sh --dry    # the dry mode (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$PY" benchmarks/gpu_check.py "$@"
