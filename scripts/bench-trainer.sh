#!/usr/bin/env bash
# Side-by-side trainer benchmark: hyperplane (release build) and PyTorch on CPU,
# both single-threaded, same shapes, same machine, same run.
#   scripts/bench-trainer.sh [--install-torch] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--install-torch" ]; then
  python3 -m pip install --quiet torch numpy
  shift
fi
epochs="${1:-3}"
echo "hyperplane: $(RAYON_NUM_THREADS=1 cargo run --release --quiet -- bench trainer --json --epochs "$epochs")"
echo "pytorch:    $(python3 scripts/bench_torch.py "$epochs")"
