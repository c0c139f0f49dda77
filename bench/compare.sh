#!/usr/bin/env bash
# Runs each benchmark of the README's Performance table on both sides: ./diffuse bench (Java) and the PyTorch scripts.
# Every measurement waits (up to MAX_WAIT seconds) for the 1-minute load average to fall below MAX_LOAD, since the
# machine may be shared, and prints the load average before and after it. Repeat with REPEAT=N; report the best.
#
#   bench/compare.sh [kernels|unet|vae|all]       (env: REPEAT=2 MAX_LOAD=1.5 MAX_WAIT=600 TORCH_BLAS=DIR)
#
# TORCH_BLAS: a folder with an optimised libblas.so.3 for torch (see bench/README.md); unset: the system's BLAS.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"
repeat="${REPEAT:-2}" max_load="${MAX_LOAD:-1.5}" max_wait="${MAX_WAIT:-600}"
python=/usr/bin/python3
torch_env=(env PYTHONPATH=)
[ -n "${TORCH_BLAS:-}" ] && torch_env+=("LD_LIBRARY_PATH=$TORCH_BLAS")

wait_quiet() {
  local waited=0
  while awk -v m="$max_load" '{ exit !($1 >= m) }' /proc/loadavg && [ "$waited" -lt "$max_wait" ]; do
    sleep 10; waited=$((waited + 10))
  done
}

measure() {   # measure LABEL COMMAND...
  for i in $(seq "$repeat"); do
    wait_quiet
    echo "=== $1 (try $i/$repeat) load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ ${*:2}"
    "${@:2}" 2>&1 | grep -v "^WARNING: Using incubator"
    echo "=== $1 load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  done
}

. scripts/jdk.sh
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
./diffuse help >/dev/null 2>&1   # build once, outside the measurements

if [ "$what" = kernels ] || [ "$what" = all ]; then
  measure "java gemm 1024" ./diffuse bench gemm 1024
  measure "java gemm 2048" ./diffuse bench gemm 2048
  measure "java conv" ./diffuse bench conv
  measure "java attention" ./diffuse bench attention
  measure "torch kernels" "${torch_env[@]}" "$python" bench/torch_kernels.py
fi
if [ "$what" = unet ] || [ "$what" = all ]; then
  measure "java unet sd15" ./diffuse bench unet --random sd15 --latent 32 --batch 2 --runs 3
  measure "torch unet sd15" "${torch_env[@]}" "$python" bench/torch_unet.py --model sd15 --latent 32 --batch 2 --runs 3
fi
if [ "$what" = vae ] || [ "$what" = all ]; then
  measure "java vae sd 256" ./diffuse bench vae --random sd --size 256 --runs 3
  measure "torch vae sd 256" "${torch_env[@]}" "$python" bench/torch_vae.py --model sd --size 256 --runs 3
fi
