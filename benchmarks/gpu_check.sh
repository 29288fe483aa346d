#!/usr/bin/env bash
# The GPU check (issue 21): on a machine with an NVIDIA GPU, from the
# repository root, install the CUDA build of JAX next to the project and
# run the MMUL step on CLIP ViT-B/16, then on BLIP base's retrieval model
# (the paper's), in bfloat16 at a batch that fills the device; prints
# examples/s, step time and model FLOPs utilisation of each.
#
#   bash benchmarks/gpu_check.sh            # about 5-8 minutes
#   VENV=/path/to/venv bash benchmarks/gpu_check.sh
#
# It uses $VENV (default .venv-gpu, created if missing) so the CPU venv is
# left as it is. Extra arguments go to benchmarks/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
if ! command -v nvidia-smi >/dev/null; then
  echo "error: no nvidia-smi here; run this on a machine with an NVIDIA GPU" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
start=$(date +%s)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
pip install -q -e .
# the CUDA plugin of the jax version the project resolved to
pip install -q "jax[cuda12]==$(python -c 'import jax; print(jax.__version__)')"
echo "install: $(( $(date +%s) - start )) s"
python -c "import jax; d = jax.devices(); assert d[0].platform == 'gpu', d; print('jax sees', d)"
# XLA may take this much of the GPU's memory (its default is 0.75).
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}
timeout 270 python benchmarks/gpu_check.py "$@"
timeout 270 python benchmarks/gpu_check.py --model=blip "$@"
echo "total: $(( $(date +%s) - start )) s"
