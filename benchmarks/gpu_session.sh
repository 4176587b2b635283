#!/usr/bin/env bash
# A GPU session's measurements, in two parts that each fit one device call (under 600 s on one H100):
#   bash benchmarks/gpu_session.sh compare    # every variant at phi-2's shape, and the profiles (about 6-8 min)
#   bash benchmarks/gpu_session.sh full-job   # run_training on the seed's job size (1,234 train examples,
#                                             # 3 epochs), then the evaluation, timed (about 5-7 min)
# Further arguments go to benchmarks/gpu_train.py. Each part first installs the wheels carried in
# benchmarks/out/wheels/ (GPU hosts reach no registry): transformers 5.25.0, trl 1.16.0, datasets 5.2.0, peft 0.21.2,
# bitsandbytes 0.50.2 and what they need that the host lacks.
# Prepare on a CPU machine first (benchmarks/out/ is not committed; carry it):
#   .venv/bin/pip download --no-deps -d benchmarks/out/wheels transformers==5.25.0 trl==1.16.0 datasets==5.2.0 \
#       pyarrow==26.0.1 pandas==3.1.1 peft==0.21.2 bitsandbytes==0.50.2 accelerate==1.16.0 tokenizers==0.23.3 \
#       safetensors==0.8.0 huggingface_hub==1.31.0 dill multiprocess xxhash
#   .venv/bin/python benchmarks/gpu_train.py --prepare-lengths --lengths benchmarks/out/lengths.json
# Output goes to stdout and to $OUT (or benchmarks/out), line by line: gpu_train.txt or full_job.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:-}
if [ "$part" != compare ] && [ "$part" != full-job ]; then
    echo "usage: bash benchmarks/gpu_session.sh compare|full-job [gpu_train.py arguments]" >&2
    exit 2
fi
shift
PY=${PYTHON:-python3}
WHEELS=benchmarks/out/wheels
OUT_DIR=${OUT:-benchmarks/out}
mkdir -p "$OUT_DIR"
if [ -d "$WHEELS" ]; then
    $PY -m pip install -q --no-index --find-links "$WHEELS" transformers==5.25.0 trl==1.16.0 datasets==5.2.0 \
        peft==0.21.2 bitsandbytes==0.50.2 ||
        $PY -m pip install -q --no-index --find-links "$WHEELS" --no-deps "$WHEELS"/*.whl ||
        echo "the carried wheels did not install; using what is installed"
    $PY -c "import accelerate" 2>/dev/null || $PY -m pip install -q --no-index --no-deps "$WHEELS"/accelerate-*.whl
fi
$PY -c "import torch, transformers, peft, trl; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'trl', trl.__version__)"
$PY -c "import bitsandbytes; print('bitsandbytes', bitsandbytes.__version__)" || echo "no bitsandbytes: 4-bit variants are skipped"
nvidia-smi --query-gpu=name,memory.total --format=csv || true
quiet() { grep --line-buffered -v -E "Loading weights|Writing model shards"; }
case "$part" in
compare)
    $PY -u benchmarks/gpu_train.py --lengths benchmarks/out/lengths.json "$@" 2>&1 | quiet | tee "$OUT_DIR/gpu_train.txt"
    ;;
full-job)
    $PY -u benchmarks/gpu_train.py --full-job --max-train-examples 1234 --evaluate "$@" 2>&1 | quiet |
        tee "$OUT_DIR/full_job.txt"
    ;;
esac
