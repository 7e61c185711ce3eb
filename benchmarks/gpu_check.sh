#!/usr/bin/env bash
# The engine's GPU check, on a CUDA machine with network access (about 12 minutes):
#   1. a venv with JAX's CUDA build (.venv-gpu; PyTorch's CPU wheel is enough: it only writes
#      checkpoints and trains the MaMuJoCo behaviour MAPPO),
#   2. the tests that touch the training device (engine, learner fixtures, training loop),
#   3. benchmarks/bench_engine.py on CUDA with up to 125 members per program,
#   4. as much of the reference profile's training stage at the authors' length (train.epochs,
#      25 members per program) as fits 8 minutes, with its wall time and the runs finished.
# Figures go to gpu_check/ (one log per step).  Usage: bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check}
VENV=${VENV:-.venv-gpu}
mkdir -p "$OUT"
export JAX_PLATFORMS=cuda,cpu   # envs/jax_host.py defaults to cpu when unset
step() { echo "== $1 ($(date +%T))" | tee -a "$OUT/summary.txt"; }

step "install"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
  "$VENV/bin/pip" install -q -e ".[test]" "jax[cuda12]==0.10.2"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/summary.txt"
"$VENV/bin/python" -c "import jax; d = jax.devices()[0]; print('jax', jax.__version__, d.platform, d.device_kind); \
assert d.platform == 'gpu', 'JAX sees no GPU'" 2>&1 | tee -a "$OUT/summary.txt" || exit 1

step "tests on the device (engine, learner fixtures, training loop)"
timeout 240 "$VENV/bin/python" -m pytest -q -x tests/test_engine.py tests/test_learner_fixtures.py \
  tests/test_train_loop.py 2>&1 | tail -5 | tee -a "$OUT/summary.txt"

step "bench_engine on CUDA"
timeout 180 "$VENV/bin/python" benchmarks/bench_engine.py --members 1 25 125 --updates 300 \
  --algorithms BC ComaDICE OMAR CQL 2>&1 | tee "$OUT/bench_engine.txt" | tee -a "$OUT/summary.txt"

step "reference profile, training stage at the authors' length (8 minutes)"
CONFIG=(--configfile config/reference.yaml --config "train={n_updates: null, device: cuda, members: 25}")
if ! ls results/reference/datasets/*/*/*.h5 >/dev/null 2>&1; then
  # no reference datasets here: the smoke generator's data of the same cells (minutes, not hours)
  CONFIG+=("datasets={generator: smoke}")
  echo "no results/reference/datasets: training on the smoke generator's data of the reference cells" \
    | tee -a "$OUT/summary.txt"
  timeout 300 "$VENV/bin/snakemake" --cores 16 "${CONFIG[@]}" --until smac_like_dataset d4rl_like_dataset \
    > "$OUT/datasets.log" 2>&1
fi
start=$(date +%s)
PATH="$VENV/bin:$PATH" timeout 480 snakemake --cores 16 --resources gpu=4 --keep-going "${CONFIG[@]}" \
  --until train_program > "$OUT/train.log" 2>&1
end=$(date +%s)
runs=$(find results/reference/runs -name metrics.json -newermt "@$start" | wc -l)
echo "training stage: $((end - start)) s, $runs runs finished at the authors' length" | tee -a "$OUT/summary.txt"
grep -h "updates_per_s" -r results/reference/runs --include=timing.json | sort | tail -3 >> "$OUT/summary.txt"
step "done"
