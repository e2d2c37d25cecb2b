#!/usr/bin/env bash
# Separate virtual environments for bench_synth.py's reference synthesizers.
#
# smartnoise-synth 1.0.8 pins opendp 0.14 (veil uses 0.16) and, like SDV (through
# its dependencies), pulls a CUDA build of torch unless a CPU torch is installed
# first: each env gets torch==2.13.0 (the CPU wheel) before the package itself.
# Usage: bash benchmarks/reference_envs.sh   (from the repository root; idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
ROOT=.bench-venvs
# The CPU wheel of torch: from pip's configured sources (a local wheel here), or
# from PyTorch's CPU index when TORCH_INDEX=https://download.pytorch.org/whl/cpu.
TORCH_INDEX=${TORCH_INDEX:-}

make_env() {
    local name=$1
    shift
    local env="$ROOT/$name"
    if [ -x "$env/bin/python" ] && "$env/bin/python" -c "import $MODULE" 2>/dev/null; then
        echo "$env: ready"
        return
    fi
    "$PY" -m venv "$env"
    "$env/bin/pip" install -q --upgrade pip
    if [ -n "$TORCH_INDEX" ]; then
        "$env/bin/pip" install -q "torch==2.13.0" --extra-index-url "$TORCH_INDEX"
    else
        "$env/bin/pip" install -q "torch==2.13.0"
    fi
    "$env/bin/pip" install -q "$@"
    echo "$env: installed $*"
}

MODULE=snsynth make_env smartnoise "smartnoise-synth==1.0.8" pandas scikit-learn
MODULE=sdv make_env sdv "sdv" pandas scikit-learn
