#!/usr/bin/env bash
# Packs what a GPU machine needs to run scripts/device-check.sh there (it has no Java and no network) into the
# ignored folder .device-kit/, as compressed archives: name `.device-kit` in the device tool's `carry`.
#
#   scripts/device-kit.sh
#
#   jre.tar.xz       a JRE made with jlink from the JDK 25 here: the modules the project and TornadoVM need
#   sdk.tar.xz       the TornadoVM SDK in TD_KIT_SDK (default /opt/tornadovm-ptx, else TORNADOVM_HOME), trimmed to
#                    the runtime, the OpenCL and PTX drivers and the Graal compiler; its argfile template
#   app.tar.xz       the project's jars and runtime dependencies, the compiled TornadoVM tests, JUnit's console launcher,
#                    scripts/DeviceCheck.java compiled (device-check.sh's JVM)
#   fixtures.tar.xz  the reference cases the GPU checks use (from TD_FIXTURES, default ../shared/fixtures)
#   pysrc.tar.xz     diffusers v0.27.2 src/ (DIFFUSERS_SRC, default /tmp/td-diffusers/src) and TLD's tld/ package
#                    (TLD_SRC, default /tmp/td-tld) for the PyTorch comparison: fetched code, packed here only
#   ocl.tar.xz       an OpenCL ICD loader (libOpenCL.so.1) for a machine that has the NVIDIA driver but no loader
#
# The SDK is built by hand (docs/TORNADOVM-SDK.md). The last line is `kit total: <N> MiB`: everything that travels
# to the device machine (tracked files, untracked files git does not ignore, and the kit); above 60 MiB it refuses.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/jdk.sh
limit_mib=60
kit="$root/.device-kit"
fail() { echo "device-kit: $*" >&2; exit 1; }

sdk="${TD_KIT_SDK:-}"
if [ -z "$sdk" ]; then
  if [ -d /opt/tornadovm-ptx ]; then sdk=/opt/tornadovm-ptx; else sdk="${TORNADOVM_HOME:-/opt/tornadovm}"; fi
fi
[ -f "$sdk/tornado-argfile.template" ] || fail "no TornadoVM SDK with a tornado-argfile.template at $sdk (set TD_KIT_SDK; see docs/TORNADOVM-SDK.md)"
grep -q ptx "$sdk/etc/tornado.backend" || echo "device-kit: warning: $sdk has no PTX backend ($(cat "$sdk/etc/tornado.backend")); the GPU checks will use OpenCL only" >&2
fixtures="${TD_FIXTURES:-$root/../shared/fixtures}"
cases=(unet-sd unet-sdxl vae-sd tld-denoiser)
for c in "${cases[@]}"; do [ -f "$fixtures/$c/meta.json" ] || fail "reference case $c not found in $fixtures (set TD_FIXTURES)"; done
diffusers="${DIFFUSERS_SRC:-/tmp/td-diffusers/src}"
tld="${TLD_SRC:-/tmp/td-tld}"
[ -f "$diffusers/diffusers/__init__.py" ] || fail "diffusers source not found at $diffusers: set DIFFUSERS_SRC to the src/ folder of diffusers v0.27.2 (bench/README.md)"
[ -f "$tld/tld/denoiser.py" ] || fail "TLD source not found at $tld: set TLD_SRC to the folder that holds tld/denoiser.py (TLD commit 84a75ef)"
ocl=$(ldconfig -p | awk '/libOpenCL\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$ocl" ] || fail "no libOpenCL.so.1 here to carry (apt-get install ocl-icd-libopencl1)"

work=$(mktemp -d /tmp/device-kit.XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -rf "$kit"
mkdir -p "$kit"
pack() { (cd "$work" && tar -cf - "$1" | xz -6 -T2 > "$kit/$1.tar.xz"); }
# jars are deflated; stored again without compression, xz packs their classes about twice as small
store_jars() {
  find "$1" -name '*.jar' | while read -r j; do
    rm -rf "$work/unjar" && mkdir "$work/unjar" && (cd "$work/unjar" && unzip -q "$j") && rm "$j" \
      && "$JAVA_HOME/bin/jar" -c -0 -M -f "$j" -C "$work/unjar" . || fail "cannot repack $j"
  done
}

# 1. the project, built with the TornadoVM profile against the kit's SDK (tests compiled, not run)
echo "device-kit: building the project with the TornadoVM profile..."
TORNADOVM_HOME="$sdk" ./mvnw -B -q -Ptornado -DskipTests package dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt -DincludeScope=runtime >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "build failed"; }
main_src=$(grep -rl --include=Diffuse.java "static void main" . | grep /src/main/java/ | head -1)
[ -n "$main_src" ] || fail "the Diffuse main class was not found"
main_module=${main_src#./}; main_module=${main_module%%/src/main/java/*}
main_class=$(sed -n 's/^package \(.*\);/\1/p' "$main_src").Diffuse
mkdir -p "$work/app/lib" "$work/app/test-classes"
cp "$main_module"/target/*.jar "$work/app/lib/"
tr ':' '\n' < "$main_module/target/classpath.txt" | while read -r e; do
  [ -n "$e" ] || continue
  if [ -f "$e" ]; then cp "$e" "$work/app/lib/"; else fail "classpath entry $e is not a jar (run the build again)"; fi
done
tests=()
for m in $(ls -d */src/tornado/test/java 2>/dev/null | cut -d/ -f1); do
  cp -r "$m/target/test-classes/." "$work/app/test-classes/"
  while read -r f; do tests+=("$(echo "${f#"$m"/src/tornado/test/java/}" | sed 's|/|.|g; s|\.java$||')"); done < <(find "$m/src/tornado/test/java" -name '*Test.java' | sort)
done
[ ${#tests[@]} -gt 0 ] || fail "no TornadoVM test classes found (*/src/tornado/test/java)"
./mvnw -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 -DoutputDirectory="$work/app/junit" >>"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log" >&2; fail "cannot get JUnit's console launcher"; }
# device-check's one JVM for all its sections
"$JAVA_HOME/bin/javac" -nowarn --release 25 -d "$work/app/check" -cp "$work/app/lib/*:$work/app/junit/*" scripts/DeviceCheck.java || fail "cannot compile scripts/DeviceCheck.java"
{ echo "main=$main_class"; echo "tests=${tests[*]}"; echo "built=$(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"; } > "$work/app/kit.properties"
cp tornado.properties "$work/app/"
store_jars "$work/app"
pack app

# 2. the JRE: the modules the project's jars use (jdeps) and those TornadoVM's modules and the Graal compiler need
#    (jdk.graal.compiler itself comes from the SDK's graalJars on --upgrade-module-path)
modules=$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 25 "$work"/app/lib/*.jar 2>/dev/null | tail -1)
modules="$modules,java.base,java.logging,java.management,java.desktop,java.sql,jdk.unsupported,jdk.management,jdk.internal.vm.ci,jdk.incubator.vector,jdk.httpserver"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-java-debug-attributes --strip-native-debug-symbols=exclude-debuginfo-files --no-man-pages --no-header-files \
  --output "$work/jre" 2>&1 | grep -v "incubator modules" || true
[ -x "$work/jre/bin/java" ] || fail "jlink failed"
pack jre

# 3. the SDK, without examples, benchmarks, unit tests, library bindings and Truffle/polyglot
mkdir -p "$work/sdk"
cp -r "$sdk/bin" "$sdk/etc" "$sdk/lib" "$sdk/share" "$sdk/tornado-argfile.template" "$work/sdk/"
( cd "$work/sdk/share/java/tornado" && rm -f tornado-benchmarks-* tornado-examples-* tornado-unittests-* tornado-fuzz-* tornado-matrices-* \
    tornado-cublas-* tornado-cudnn-* tornado-cufft-* tornado-cusparse-* tornado-cutlass-* ejml-* junit-* hamcrest-* jmh-core-* \
    jopt-simple-* lucene-core-* commons-lang3-* log4j-* jsr305-* nativeimage-* polyglot-* )
( cd "$work/sdk/share/java/graalJars" && rm -f truffle-api-* polyglot-* graal-sdk-* )
rm -rf "$work/sdk/share/java/tornado/"*sources* "$work/sdk/etc/"*fpga*
store_jars "$work/sdk/share"
pack sdk

# 4. reference cases, PyTorch-side sources, the OpenCL loader
mkdir -p "$work/fixtures"
for c in "${cases[@]}"; do cp -r "$fixtures/$c" "$work/fixtures/"; done
pack fixtures
mkdir -p "$work/pysrc"
cp -r "$diffusers/diffusers" "$work/pysrc/"
mkdir -p "$work/pysrc/tld" && cp "$tld/tld/__init__.py" "$tld/tld/denoiser.py" "$tld/tld/transformer_blocks.py" "$work/pysrc/tld/"
find "$work/pysrc" -name __pycache__ -prune -exec rm -rf {} +
pack pysrc
mkdir -p "$work/ocl" && cp -L "$ocl" "$work/ocl/libOpenCL.so.1"
pack ocl

# 5. what travels: tracked files, untracked files git does not ignore, the kit
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
kitb=$(du -cb "$kit"/* | tail -1 | cut -f1)
for f in "$kit"/*.tar.xz; do printf 'device-kit: %-16s %6.1f MiB\n' "$(basename "$f")" "$(echo "$(stat -c %s "$f") / 1048576" | bc -l)"; done
printf 'device-kit: tree (tracked + untracked, not ignored) %.1f MiB; SDK %s; tests: %s\n' "$(echo "$tree / 1048576" | bc -l)" "$(cat "$sdk/etc/tornado.backend")" "${#tests[@]} classes"
total=$(( (tree + kitb + 1048575) / 1048576 ))
if [ "$total" -gt "$limit_mib" ]; then
  echo "device-kit: $total MiB would travel, above the $limit_mib MiB limit: refusing (the kit is left in .device-kit for inspection)" >&2
  echo "kit total: $total MiB (over $limit_mib)"
  exit 1
fi
echo "kit total: $total MiB"
