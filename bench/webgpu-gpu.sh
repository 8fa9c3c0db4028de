#!/usr/bin/env bash
# One command for a machine with a GPU (issue 19): installs, checks the adapter, then measures the speech net at
# B = 256 on webgpu against native (100 steps, losses compared to float32 tolerance) and runs the webgpu bench rows.
#   bash bench/webgpu-gpu.sh [STEPS]        (default 100; output also in runs/webgpu-gpu.log)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-100}"
mkdir -p runs
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "no nvidia-smi"
  [ -d node_modules/webgpu ] || npm ci --no-audit --no-fund
  [ -f native/build/Release/gle_native.node ] || npm run build:native
  node --import tsx bench/webgpu-speech.ts "$steps" 256
  node --import tsx bench/bench.ts --backends native,webgpu --only gsc,mnist15k,mnist42k --runs 3
} 2>&1 | tee runs/webgpu-gpu.log
