#!/usr/bin/env bash
# Runs the whole test suite with a JDK >= 25; adds the TornadoVM tests when an SDK is installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
. scripts/jdk.sh
. scripts/tornado.sh
# The reference cases are not in the repository: they sit beside the checkout (as in CI) or where TD_FIXTURES says.
fixtures="${TD_FIXTURES:-$root/../shared/fixtures}"
if [ ! -f "$fixtures/README.md" ]; then
  echo "test.sh: reference fixtures not found at $fixtures (put the shared folder beside the checkout or set TD_FIXTURES)" >&2
  exit 1
fi
fixtures="$(cd "$fixtures" && pwd)"
if [ -n "$TD_MAVEN_PROFILES" ]; then
  echo "test.sh: TornadoVM SDK found at $TORNADOVM_HOME: the TornadoVM backend tests run too (bailouts fatal)."
else
  echo "test.sh: no TornadoVM SDK (set TORNADOVM_HOME or install at /opt/tornadovm): TornadoVM backend tests are SKIPPED."
fi
exec ./mvnw -B $TD_MAVEN_PROFILES -Dfixtures.dir="$fixtures" verify "$@"
