#!/usr/bin/env bash
# The GPU check, one run on the device machine (no Java, no network there): unpacks the kit that
# scripts/device-kit.sh packed into .device-kit/ (carried with the call), and writes everything to $OUT:
#
#   1. the machine: nvidia-smi, PyTorch's measured ceilings (fp32 / TF32 / fp16 matmul, device copy)
#   2. which TornadoVM backends start here (OpenCL + PTX, else PTX alone, else OpenCL alone) and `tornado --devices`
#   3. on the first device (PTX first, then an OpenCL GPU, else whatever there is, e.g. PoCL on a CPU), in order
#      of what must not be missed when the budget runs out: the kernel tests (every kernel against the CPU
#      backend, record and replay), a UNet step and a TLD batch on TornadoVM and in PyTorch on the same device
#      (first run = record + JIT, then steady state), model parity (UNet SD/SDXL, VAE, TLD through record and
#      replay), per-kernel times and GFLOP/s next to PyTorch's fp32 peak, the UNet step with fp16 weights
#   4. on a second device (an OpenCL GPU after PTX), the kernel tests and kernel times, if time is left
#
# Sizes follow the device: on a GPU an SD 1.5 UNet (random weights, 512x512 = latent 64, batch 2, fp32 and
# fp16 weights) and TLD-100M at batch 72 (36 images with guidance) for 15 steps; on a CPU OpenCL device (the
# stand-in used to test this script) the unet-sd and tld-denoiser reference models at small sizes, and of the
# model parity tests only TLD's.
# Each stage has a timeout and the run a budget (TD_CHECK_BUDGET_S, default 470 s): a stage that fails or would
# not fit is reported and the run goes on (TD_CHECK_TIMEOUT_SCALE multiplies the stage timeouts). $OUT gets
# summary.txt and check.log (the device tool returns at most 8 files). Run from the repository root.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-$root/out/device-check}"
mkdir -p "$out"
log="$out/check.log" summary="$out/summary.txt"
: > "$log"; : > "$summary"
budget="${TD_CHECK_BUDGET_S:-470}"
scale="${TD_CHECK_TIMEOUT_SCALE:-1}"     # stage timeouts x this (a loaded stand-in machine)
start=$(date +%s)
W="${TD_KIT_DIR:-/tmp/td-kit}"
kit="$root/.device-kit"

elapsed() { echo $(( $(date +%s) - start )); }
say() { echo "$*" | tee -a "$summary" >> "$log"; echo "[$(elapsed)s] $*"; }
# stage NAME TIMEOUT CMD...: runs CMD with a timeout (cut to what the budget has left), its output into check.log
stage_at=0
stage() {
  local name=$1 t=$(( $2 * scale )); shift 2
  local left=$(( budget - $(elapsed) ))
  if [ "$left" -lt 30 ]; then say "SKIP  $name: the ${budget}s budget is spent"; stage_at=$(stat -c %s "$log"); return 99; fi
  [ "$t" -gt "$left" ] && t=$left
  local t0; t0=$(date +%s)
  { echo; echo "===== $name ($(date -u +%T), timeout ${t}s)"; echo "\$ $*"; } >> "$log"
  stage_at=$(stat -c %s "$log")
  timeout --kill-after=10 "$t" "$@" >> "$log" 2>&1
  local rc=$? verdict=ok
  [ "$rc" -ne 0 ] && verdict=FAIL
  [ "$rc" -eq 124 ] && verdict=TIME
  say "$(printf '%-5s %-36s %5ss' "$verdict" "$name" $(( $(date +%s) - t0 )))$([ "$rc" -ne 0 ] && echo " (rc $rc)")"
  return $rc
}
# the last stage's output
stage_out() { tail -c +$((stage_at + 1)) "$log"; }
# its lines that match a pattern, into the summary
keep() { stage_out | grep -E "$1" | head -"${2:-40}" | sed 's/^/      /' | tee -a "$summary"; }

say "device-check $(date -u +%FT%TZ) on $(hostname), $(nproc) cores, budget ${budget}s"
[ -d "$kit" ] || { say "FAIL  no .device-kit here: run scripts/device-kit.sh first and name .device-kit in carry"; exit 1; }

# ---- 0. unpack
t0=$(date +%s)
rm -rf "$W" && mkdir -p "$W"
for a in "$kit"/*.tar.xz; do
  tar -xJf "$a" -C "$W" 2>/dev/null || python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$a" "$W" \
    || { say "FAIL  cannot unpack $a"; exit 1; }
done
say "ok    unpack kit ($(du -sm "$W" | cut -f1) MiB)              $(( $(date +%s) - t0 ))s; $(grep built "$W/app/kit.properties")"
export JAVA_HOME="$W/jre" TORNADOVM_HOME="$W/sdk"
java="$JAVA_HOME/bin/java"
main=$(sed -n 's/^main=//p' "$W/app/kit.properties")
read -r -a tests <<< "$(sed -n 's/^tests=//p' "$W/app/kit.properties")"
cp_app="$W/app/lib/*"

# ---- 1. the machine
gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  gpu=1
  stage machine 30 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem,power.limit --format=csv
  keep "^[A-Za-z]" 3
fi
has_torch=0
python3 -c "import torch" >/dev/null 2>&1 && has_torch=1
[ "$has_torch" = 1 ] || say "note  no PyTorch here: the PyTorch comparisons are skipped"
peak=""
if [ "$gpu" = 1 ] && [ "$has_torch" = 1 ]; then
  stage torch-peak 90 python3 bench/torch_peak.py && keep "^(card|peak)"
  peak=$(grep -E "^peak matmul_fp32 " "$log" | tail -1 | awk '{print $3}')
fi

# ---- 2. OpenCL loader and NVIDIA's OpenCL driver, argfiles per backend set, which set starts
if ! ldconfig -p 2>/dev/null | grep -q "libOpenCL.so.1"; then export LD_LIBRARY_PATH="$W/ocl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
  nvocl=$( (ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}'; ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null) | head -1)
  if [ -n "$nvocl" ]; then mkdir -p "$W/icd" && echo "$nvocl" > "$W/icd/nvidia.icd" && export OCL_ICD_VENDORS="$W/icd"; fi
fi
sdkjars="$TORNADOVM_HOME/share/java/tornado"
variants=(opencl)
grep -q ptx "$TORNADOVM_HOME/etc/tornado.backend" && variants=(all ptx opencl)
for v in "${variants[@]}"; do
  mkdir -p "$W/mods/$v"
  for j in "$sdkjars"/*.jar; do
    case "$v:$(basename "$j")" in ptx:tornado-drivers-opencl*|opencl:tornado-drivers-ptx*) continue;; esac
    ln -sf "$j" "$W/mods/$v/"
  done
  drop=none; [ "$v" = ptx ] && drop=opencl; [ "$v" = opencl ] && drop=ptx
  # the SDK's argfile with this kit's paths, the module path limited to this set's drivers (and without '.')
  sed -e "s|\${TORNADOVM_HOME}|$TORNADOVM_HOME|g" -e "s|^--module-path .*|--module-path $W/mods/$v|" \
      -e "s/,tornado\.drivers\.$drop//g" -e "/tornado\.drivers\.$drop/d" "$TORNADOVM_HOME/tornado-argfile.template" > "$W/argfile-$v"
done
heap=$(awk '/MemTotal/ {g = int($2 / 1048576 / 3); if (g > 32) g = 32; if (g < 2) g = 2; print g}' /proc/meminfo)
# the java command line for backend set $1 (stages run under `timeout`, which takes commands, not shell functions)
jvm_for() { jvm=("$java" @"$W/argfile-$1" -Xmx"${heap}g" -Xss8m -XX:+UseParallelGC --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dtornado.recover.bailout=false -Dtd.tornado.properties="$W/app/tornado.properties" -Dtd.home="$root" -Dfixtures.dir="$W/fixtures"); }
backends=""
for v in "${variants[@]}"; do
  backends=$v
  jvm_for "$v"
  if stage "devices ($v)" 120 "${jvm[@]}" -cp "$cp_app" "$main" devices && stage_out | grep -qE "^ *[0-9]+:[0-9]+ "; then
    devlines=$(stage_out | grep -E "^ *[0-9]+:[0-9]+ ")
    keep "^ *[0-9]+:[0-9]+ " 8
    break
  fi
  backends=""
done
[ -n "$backends" ] || { say "FAIL  TornadoVM starts with none of: ${variants[*]} (see check.log)"; exit 1; }
stage "tornado --devices" 60 env JAVA_HOME="$JAVA_HOME" TORNADOVM_HOME="$TORNADOVM_HOME" "$TORNADOVM_HOME/bin/tornado" --devices
targets=()
while read -r id type kind _; do [ "$type" = PTX ] && [ "$kind" = GPU ] && targets+=("$id PTX"); done <<< "$devlines"
while read -r id type kind _; do [ "$type" = OPENCL ] && [ "$kind" = GPU ] && targets+=("$id OpenCL"); done <<< "$devlines"
small=0
if [ ${#targets[@]} -eq 0 ]; then
  small=1
  targets=("$(echo "$devlines" | head -1 | awk '{print $1 " " $2 "-" $3}')")
  say "note  no GPU device: checking on ${targets[0]} with small models (the stand-in mode)"
fi

# ---- 3. the first device: tests, kernels, UNet step, TLD batch, each against PyTorch on the same device
# on the CPU stand-in, PyTorch shares the cores with everything else: one thread avoids its spin-waiting
torch_dev=cpu threads=1; [ "$gpu" = 1 ] && torch_dev=cuda threads=$(nproc)
export DIFFUSERS_SRC="$W/pysrc" TLD_SRC="$W/pysrc" TD_HUB_STANDINS=1 PYTHONUNBUFFERED=1

if [ "$small" = 1 ]; then
  unet_java=("$W/fixtures/unet-sd" --latent 8 --batch 2 --runs 3) unet_torch=(--config "$W/fixtures/unet-sd/config.json" --latent 8 --batch 2 --runs 3)
  tld_java=("$W/fixtures/tld-denoiser" --batch 8 --runs 3) tld_torch=(--config "$W/fixtures/tld-denoiser/config.json" --batch 8 --runs 3)
  kargs=(--runs 2 --chain 1)
else
  unet_java=(--random sd15 --latent 64 --batch 2 --runs 5) unet_torch=(--model sd15 --latent 64 --batch 2 --runs 10 --warmup 2)
  tld_java=(--random tld-100m --batch 72 --runs 15) tld_torch=(--model tld-100m --batch 72 --runs 15 --warmup 2)
  kargs=(--runs 5 --chain 8)
fi
[ -n "$peak" ] && kargs+=(--peak "$peak")
unet() {   # unet f32|f16: a UNet step on TornadoVM, then in PyTorch (the fixture's F32 weights on the stand-in)
  local dtarg=(); [ "$small" = 0 ] && dtarg=(--dtype "$1")
  stage "UNet step $1 (TornadoVM $name)" 240 "${run_java[@]}" bench unet "${unet_java[@]}" "${dtarg[@]}" --warmup 1 --device tornado
  keep "^(unet |warm-up|unet:)" 4
  if [ "$has_torch" = 1 ]; then
    stage "UNet step ${1/f/fp} (PyTorch $torch_dev)" 120 python3 bench/torch_unet.py "${unet_torch[@]}" --device "$torch_dev" --dtype "${1/f/fp}" --threads "$threads"
    keep "^(torch|warm-up 1|unet:)" 3
  fi
}
kernels() {
  stage "kernels ($name)" 150 "${run_java[@]}" bench-device --device tornado --no-unet "${kargs[@]}"
  keep "^(kernel|\(|[a-zA-Z].*(GFLOP|GB)/s)" 12
}

# in order of what a first GPU run must not miss when the budget runs out: kernels correct, the two model
# comparisons, model parity, kernel rates, fp16 weights
first=1
for target in "${targets[@]}"; do
  read -r bd name <<< "$target"
  b=${bd%%:*} d=${bd##*:}
  junit=("${jvm[@]}" -Dtornado.backend="$b" -Dtornado.device="$d" -cp "$W/app/junit/*:$cp_app:$W/app/test-classes"
         org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=tree --fail-if-no-tests)
  run_java=("${jvm[@]}" -Dtornado.backend="$b" -Dtornado.device="$d" -cp "$cp_app" "$main")
  say "----  device $bd ($name)"
  sel=() parity=()
  for c in "${tests[@]}"; do
    if [[ "$c" == *ModelParityTest ]]; then parity+=(--select-class "$c"); else sel+=(--select-class "$c"); fi
  done
  stage "kernel tests ($name)" 150 "${junit[@]}" "${sel[@]}"
  keep "tests (successful|failed|aborted)|✘" 12
  if [ "$first" = 0 ]; then kernels; continue; fi
  first=0
  unet f32
  stage "TLD batch (TornadoVM $name)" 180 "${run_java[@]}" bench tld "${tld_java[@]}" --warmup 1 --device tornado
  keep "^(tld |warm-up|tld:)" 4
  if [ "$has_torch" = 1 ]; then
    stage "TLD batch (PyTorch $torch_dev)" 90 python3 bench/torch_tld.py "${tld_torch[@]}" --device "$torch_dev" --threads "$threads"
    keep "^(torch|warm-up 1|tld:)" 3
  fi
  # the stand-in (a CPU OpenCL device compiles ~0.5 s per task) runs TLD's model parity only; ./test.sh covers the rest there
  if [ "$small" = 1 ]; then parity=("${parity[@]/--select-class/--select-method}"); parity=("${parity[@]/%ModelParityTest/ModelParityTest#tldForward}"); fi
  stage "model parity ($name)" 240 "${junit[@]}" "${parity[@]}"
  keep "tests (successful|failed|aborted)|✘" 12
  kernels
  [ "$small" = 0 ] && unet f16
done
say "done  in $(elapsed)s; full output in check.log"
cat "$summary"
