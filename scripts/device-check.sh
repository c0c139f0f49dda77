#!/usr/bin/env bash
# The GPU check, one run on the device machine (no Java, no network there): unpacks the kit that
# scripts/device-kit.sh packed into .device-kit/ (carried with the call), and writes everything to $OUT:
#
#   1. the machine: nvidia-smi, PyTorch's measured ceilings (fp32 / TF32 / fp16 matmul, device copy)
#   2. which TornadoVM backends start here (OpenCL + PTX, else PTX alone, else OpenCL alone) and `tornado --devices`
#   3. PyTorch on the same device: the UNet step and the TLD batch (fp32; on a GPU also the UNet in fp16)
#   4. TornadoVM on the first device (PTX first, then an OpenCL GPU, else whatever there is, e.g. PoCL on a CPU),
#      in ONE JVM (scripts/DeviceCheck.java: TornadoVM and its Graal kernel compiler start and warm up once), in
#      order of what must not be missed: the kernel tests (every kernel against the CPU backend, record and
#      replay), the UNet step and the TLD batch (first run = record + JIT, then steady state), model parity (UNet
#      SD/SDXL, VAE, TLD through record and replay), per-kernel times and GFLOP/s next to PyTorch's fp32 peak,
#      the UNet step with fp16 weights; on a second device (an OpenCL GPU after PTX) the kernel tests and times
#
# Sizes follow the device: on a GPU an SD 1.5 UNet (random weights, 512x512 = latent 64, batch 2, fp32 and
# fp16 weights) and TLD-100M at batch 72 (36 images with guidance) for 15 steps; on a CPU OpenCL device (the
# stand-in used to test this script) the unet-sd and tld-denoiser reference models at small sizes, and of the
# model parity tests only TLD's.
# The run has a budget (TD_CHECK_BUDGET_S, default 470 s) and every section its own (x TD_CHECK_TIMEOUT_SCALE): a
# section that would exceed what is left is skipped with a line, one that fails or overruns is reported, and the
# run goes on; so does a backend that does not start. $OUT gets summary.txt and check.log. TD_CHECK_HEAP_GB sets
# the JVM heap (default a third of the memory, 2-32 GB). Run from the repository root.
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
# stage NAME BUDGET CMD...: runs CMD with BUDGET seconds as its timeout, or skips it with a line if the run has less left
stage_at=0
stage() {
  local name=$1 t=$(( $2 * scale )); shift 2
  local left=$(( budget - $(elapsed) ))
  if [ "$t" -gt "$left" ]; then say "SKIP  $name: needs ${t}s, ${left}s left"; stage_at=$(stat -c %s "$log"); return 99; fi
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
  stage torch-peak 45 python3 bench/torch_peak.py && keep "^(card|peak)"
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
heap=${TD_CHECK_HEAP_GB:-$(awk '/MemTotal/ {g = int($2 / 1048576 / 3); if (g > 32) g = 32; if (g < 2) g = 2; print g}' /proc/meminfo)}
# the java command line for backend set $1 (stages run under `timeout`, which takes commands, not shell functions)
jvm_for() { jvm=("$java" @"$W/argfile-$1" -Xmx"${heap}g" -Xss8m -XX:+UseParallelGC --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dtornado.recover.bailout=false -Dtd.tornado.properties="$W/app/tornado.properties" -Dtd.home="$root" -Dfixtures.dir="$W/fixtures"); }
backends=""
for v in "${variants[@]}"; do
  backends=$v
  jvm_for "$v"
  if stage "devices ($v)" 60 "${jvm[@]}" -cp "$cp_app" "$main" devices && stage_out | grep -qE "^ *[0-9]+:[0-9]+ "; then
    devlines=$(stage_out | grep -E "^ *[0-9]+:[0-9]+ ")
    keep "^ *[0-9]+:[0-9]+ " 8
    break
  fi
  say "note  backend set $v: TornadoVM finds no device (see check.log)"
  backends=""
done
[ -n "$backends" ] || { say "FAIL  TornadoVM starts with none of: ${variants[*]} (see check.log)"; exit 1; }
stage "tornado --devices" 30 env JAVA_HOME="$JAVA_HOME" TORNADOVM_HOME="$TORNADOVM_HOME" "$TORNADOVM_HOME/bin/tornado" --devices
targets=()
while read -r id type kind _; do [ "$type" = PTX ] && [ "$kind" = GPU ] && targets+=("$id PTX"); done <<< "$devlines"
while read -r id type kind _; do [ "$type" = OPENCL ] && [ "$kind" = GPU ] && targets+=("$id OpenCL"); done <<< "$devlines"
small=0
if [ ${#targets[@]} -eq 0 ]; then
  small=1
  targets=("$(echo "$devlines" | head -1 | awk '{print $1 " " $2 "-" $3}')")
  say "note  no GPU device: checking on ${targets[0]} with small models (the stand-in mode)"
fi


# ---- 3. PyTorch on the same device (bounded, and cheap next to TornadoVM's compiles: first, so they are never lost)
# on the CPU stand-in, PyTorch shares the cores with everything else: one thread avoids its spin-waiting
torch_dev=cpu threads=1; [ "$gpu" = 1 ] && torch_dev=cuda threads=$(nproc)
export DIFFUSERS_SRC="$W/pysrc" TLD_SRC="$W/pysrc" TD_HUB_STANDINS=1 PYTHONUNBUFFERED=1
if [ "$small" = 1 ]; then
  unet_java="$W/fixtures/unet-sd --latent 8 --batch 2 --runs 3" unet_torch=(--config "$W/fixtures/unet-sd/config.json" --latent 8 --batch 2 --runs 3)
  tld_java="$W/fixtures/tld-denoiser --batch 8 --runs 3" tld_torch=(--config "$W/fixtures/tld-denoiser/config.json" --batch 8 --runs 3)
  kargs="--runs 2 --chain 1"
else
  unet_java="--random sd15 --latent 64 --batch 2 --runs 5" unet_torch=(--model sd15 --latent 64 --batch 2 --runs 10 --warmup 2)
  tld_java="--random tld-100m --batch 72 --runs 15" tld_torch=(--model tld-100m --batch 72 --runs 15 --warmup 2)
  kargs="--runs 5 --chain 8"
fi
[ -n "$peak" ] && kargs+=" --peak $peak"
# budget per section in seconds, on a GPU / on the CPU stand-in (x TD_CHECK_TIMEOUT_SCALE)
B() { [ "$small" = 1 ] && echo "$2" || echo "$1"; }
if [ "$has_torch" = 1 ]; then
  stage "UNet step fp32 (PyTorch $torch_dev)" "$(B 60 60)" python3 bench/torch_unet.py "${unet_torch[@]}" --device "$torch_dev" --dtype fp32 --threads "$threads"
  keep "^(torch|warm-up 1|unet:)" 3
  stage "TLD batch (PyTorch $torch_dev)" "$(B 45 60)" python3 bench/torch_tld.py "${tld_torch[@]}" --device "$torch_dev" --threads "$threads"
  keep "^(torch|warm-up 1|tld:)" 3
  if [ "$small" = 0 ]; then
    stage "UNet step fp16 (PyTorch $torch_dev)" 45 python3 bench/torch_unet.py "${unet_torch[@]}" --device "$torch_dev" --dtype fp16 --threads "$threads"
    keep "^(torch|warm-up 1|unet:)" 3
  fi
fi

# ---- 4. TornadoVM, one JVM per device running its sections (scripts/DeviceCheck.java), in order of what a first
# GPU run must not miss: kernels correct, the UNet step and TLD batch, model parity, kernel rates, fp16 weights.
# A section that would not fit the time left is skipped with a line; one that overruns its budget ends the JVM and
# the next JVM goes on from the section after it.
# on the stand-in (a CPU OpenCL device compiles ~0.5 s per task) model parity is TLD's only; ./test.sh covers the rest there
parity=TornadoModelParityTest
[ "$small" = 1 ] && parity=TornadoModelParityTest#tldForward
kernel_tests=$(for c in "${tests[@]}"; do [[ "$c" == *ModelParityTest ]] || echo -n "$c "; done)
parity_tests=$(for c in "${tests[@]}"; do [[ "$c" == *ModelParityTest ]] && echo -n "${c%TornadoModelParityTest}$parity "; done)
first=1
for target in "${targets[@]}"; do
  read -r bd name <<< "$target"
  b=${bd%%:*} d=${bd##*:}
  say "----  device $bd ($name)"
  sections="$W/sections-$b-$d"
  {
    echo "kernel tests ($name)|$(( $(B 150 240) * scale ))|junit|$kernel_tests"
    if [ "$first" = 1 ]; then
      echo "UNet step f32 (TornadoVM $name)|$(( $(B 150 240) * scale ))|diffuse|bench unet $unet_java$([ "$small" = 0 ] && echo " --dtype f32") --warmup 1 --device tornado"
      echo "TLD batch (TornadoVM $name)|$(( $(B 90 150) * scale ))|diffuse|bench tld $tld_java --warmup 1 --device tornado"
      echo "model parity ($name)|$(( $(B 150 150) * scale ))|junit|$parity_tests"
    fi
    echo "kernels ($name)|$(( $(B 90 150) * scale ))|diffuse|bench-device --device tornado --no-unet $kargs"
    [ "$first" = 1 ] && [ "$small" = 0 ] && echo "UNet step f16 (TornadoVM $name)|$(( 150 * scale ))|diffuse|bench unet $unet_java --dtype f16 --warmup 1 --device tornado"
  } > "$sections"
  first=0
  n=$(wc -l < "$sections")
  next=0
  while [ "$next" -lt "$n" ]; do
    left=$(( budget - $(elapsed) ))
    [ "$left" -gt 20 ] || { say "SKIP  the rest of device $bd: the ${budget}s budget is spent"; break; }
    { echo; echo "===== JVM on $bd from section $next ($(date -u +%T))"; } >> "$log"
    jvm_at=$(stat -c %s "$log")
    timeout --kill-after=10 $(( left + 15 )) "${jvm[@]}" -Dtornado.backend="$b" -Dtornado.device="$d" -cp "$W/app/check:$W/app/junit/*:$cp_app:$W/app/test-classes" \
      DeviceCheck "$sections" $(( start + budget )) "$next" >> "$log" 2>&1
    rc=$?
    out_now=$(tail -c +$((jvm_at + 1)) "$log")
    # each section: its verdict, and the lines of its output worth keeping
    while read -r _ what i rest; do
      case "$what" in
        SKIP) say "SKIP  ${rest}"; next=$(( i + 1 ));;
        END)  read -r verdict secs cpu sname <<< "$rest"
              say "$(printf '%-5s %-36s %5ss (JVM CPU %ss)' "$verdict" "$sname" "$secs" "$cpu")"
              echo "$out_now" | awk -v i="$i" '$1 == "####" && $3 == i {on = ($2 == "BEGIN")} on' \
                | grep -E "^(tests:|  ✘|unet|tld|warm-up|kernel|\(|[a-zA-Z].*(GFLOP|GB)/s|UNet step)" | head -16 | sed 's/^/      /' | tee -a "$summary"
              next=$(( i + 1 ));;
        BEGIN) next=$i;;
      esac
    done < <(echo "$out_now" | grep -E "^#### (BEGIN|END|SKIP) ")
    last=$(echo "$out_now" | grep -E "^#### (BEGIN|END|SKIP) " | tail -1)
    if [ "$rc" -eq 0 ]; then break; fi
    if [[ "$last" == "#### BEGIN "* ]]; then   # the JVM died inside a section
      read -r _ _ i sname <<< "$last"
      say "$(printf '%-5s %-36s' FAIL "$sname") (the JVM ended with rc $rc; see check.log)"
      next=$(( i + 1 ))
    elif [ -z "$last" ]; then
      say "FAIL  the JVM on $bd did not start its sections (rc $rc; see check.log)"; break
    fi
  done
done
say "done  in $(elapsed)s; full output in check.log"
cat "$summary"
